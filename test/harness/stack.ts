// The usual set of real services for a test, started in parallel: MariaDB + Restate, and on
// request Pebble (+ challtestsrv) and Caddy. If one fails to start, the others are stopped.

import fs from "node:fs";
import path from "node:path";
import { startCaddy, type Caddy, type CaddyOptions } from "./caddy.js";
import { startMariaDb, type MariaDb, type MariaDbOptions } from "./mariadb.js";
import { freePort, freeTcpUdpPort, LOOPBACK } from "./net.js";
import { startPebble, type Pebble, type PebbleOptions } from "./pebble.js";
import { startRestate, type Restate, type RestateOptions } from "./restate.js";
import { startRestateCluster, type RestateClusterOptions } from "./restateCluster.js";

export interface StackOptions {
  /** Start Pebble and challtestsrv (true, or their options). */
  pebble?: boolean | PebbleOptions;
  /** Start Caddy (true, or its options). */
  caddy?: boolean | CaddyOptions;
  mariadb?: MariaDbOptions;
  /** One restate-server, or with `nodes` a Restate cluster (restateCluster.ts) of that shape. */
  restate?: RestateOptions | (RestateClusterOptions & { nodes: number });
}

export interface Stack {
  mariadb: MariaDb;
  restate: Restate;
  pebble?: Pebble;
  caddy?: Caddy;
  /**
   * Environment for startSwitchyard(): free API and endpoint ports plus DATABASE_URL,
   * RESTATE_ADMIN_URL and RESTATE_INGRESS_URL of this stack (the variables src/config.ts reads),
   * with `extra` on top (e.g. ACME/DNS/Caddy settings from stack.pebble / stack.caddy).
   */
  switchyardEnv(extra?: Record<string, string>): Promise<Record<string, string>>;
  /** Stops every service (in parallel); safe to call twice. */
  stop(): Promise<void>;
}

type Stoppable = { stop(): Promise<void> };

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const optionsOf = <T extends object>(value: boolean | T | undefined): T | undefined =>
    value === undefined || value === false ? undefined : value === true ? ({} as T) : value;
  const pebbleOpts = optionsOf<PebbleOptions>(opts.pebble);
  const caddyOpts = optionsOf<CaddyOptions>(opts.caddy);

  const results = await Promise.allSettled([
    startMariaDb(opts.mariadb),
    opts.restate && "nodes" in opts.restate ? startRestateCluster(opts.restate) : startRestate(opts.restate),
    pebbleOpts ? startPebble(pebbleOpts) : Promise.resolve(undefined),
    caddyOpts ? startCaddy(caddyOpts) : Promise.resolve(undefined),
  ] as const);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length > 0) {
    await Promise.allSettled(
      results.flatMap((r) => (r.status === "fulfilled" && r.value ? [(r.value as Stoppable).stop()] : [])),
    );
    const messages = failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)));
    throw new Error(`startStack: ${failures.length} service(s) failed to start:\n${messages.join("\n\n")}`);
  }
  const [mariadb, restate, pebble, caddy] = results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    MariaDb,
    Restate,
    Pebble | undefined,
    Caddy | undefined,
  ];

  let stopping: Promise<void> | undefined;
  return {
    mariadb,
    restate,
    pebble,
    caddy,
    async switchyardEnv(extra = {}) {
      const env: Record<string, string> = {
        SWITCHYARD_HOST: LOOPBACK,
        SWITCHYARD_PORT: String(await freePort()),
        SWITCHYARD_ENDPOINT_PORT: String(await freePort()),
        // Every test's switchyard serves /metrics (a Prometheus of the test may scrape it).
        SWITCHYARD_METRICS_LISTEN: `${LOOPBACK}:${await freePort()}`,
        DATABASE_URL: mariadb.url,
        RESTATE_ADMIN_URL: restate.adminUrl,
        RESTATE_INGRESS_URL: restate.ingressUrl,
        SWITCHYARD_LOG_LEVEL: "warn",
        SWITCHYARD_RESTATE_IDENTITY_KEYS: restate.identityKey,
        // Test receivers (webhooks) listen on loopback; production allows public addresses only.
        SWITCHYARD_OUTBOUND_ALLOWED_RANGES: "127.0.0.0/8,::1/128",
        // With Pebble, challtestsrv's DNS stands in for the customers' DNS, and Pebble is the CA
        // (its HTTPS certificate trusted through NODE_EXTRA_CA_CERTS).
        ...(pebble
          ? {
              SWITCHYARD_DNS_SERVERS: pebble.challtestsrv.dnsServer,
              SWITCHYARD_ACME_DIRECTORY_URL: pebble.directoryUrl,
              NODE_EXTRA_CA_CERTS: pebbleCaFile(pebble),
            }
          : // Without it, a reserved loopback port nothing listens on: every lookup fails at once,
            // and no test asks the machine's resolvers about its example.com claims.
            { SWITCHYARD_DNS_SERVERS: `${LOOPBACK}:${await freeTcpUdpPort()}` }),
      };
      return { ...env, ...extra };
    },
    stop() {
      stopping ??= Promise.allSettled([mariadb, restate, pebble, caddy].map((s) => s?.stop())).then((settled) => {
        const errors = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
        if (errors.length > 0) throw new AggregateError(errors.map((e) => e.reason), "startStack: stop failed");
      });
      return stopping;
    },
  };
}

/** Pebble's HTTPS CA as a file, for NODE_EXTRA_CA_CERTS (written once, next to pebble's data). */
function pebbleCaFile(pebble: Pebble): string {
  const file = path.join(pebble.baseDir, "pebble-https-ca.pem");
  if (!fs.existsSync(file)) fs.writeFileSync(file, pebble.caCertPem);
  return file;
}
