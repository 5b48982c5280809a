// A running Switchyard for tests: the real stack (MariaDB + restate-server, optionally Pebble and
// Caddy), migrations applied, `switchyard serve` as a child process, and Connect clients bound to
// two tenants' tokens — or, for ClusterService, to a region agent's (`{ token: app.tokens.agents.local }`).
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { Database } from "../../src/db/schema.js";
import { freePort, LOOPBACK, startEndpointBalancer, startStack, startSwitchyard, type EndpointBalancer, type Stack, type StackOptions, type Switchyard } from "../harness/index.js";

export interface App {
  stack: Stack;
  /** The first replica (the only one unless `replicas` was given). */
  switchyard: Switchyard;
  /** Every `switchyard serve` replica, in start order. */
  replicas: Switchyard[];
  /** With several replicas: the one Restate endpoint URL in front of them (endpointBalancer.ts). */
  endpointBalancer?: EndpointBalancer;
  /** The same app with its clients bound to replica `index` (for fixtures and round-robin). */
  viaReplica(index: number): App;
  db: Kysely<Database>;
  env: Record<string, string>;
  /** Tenant tokens, and one region credential (SWITCHYARD_AGENT_TOKENS) per configured region. */
  tokens: { acme: string; globex: string; agents: Record<string, string> };
  /** A Connect client for `service` as `tenant` (or with a raw token / none). */
  client<S extends DescService>(service: S, as?: "acme" | "globex" | { token?: string }, protocol?: "connect" | "connect-binary" | "grpc"): Client<S>;
  stop(): Promise<void>;
}

export interface AppOptions extends StackOptions {
  /** Extra environment for switchyard serve. */
  env?: Record<string, string>;
  /**
   * Serve the API on Pebble's HTTP-01 port, so Pebble's validation requests (to the hostname,
   * which challtestsrv resolves to 127.0.0.1) reach switchyard's /.well-known/acme-challenge/.
   */
  answerHttp01?: boolean;
  /**
   * Run this many `switchyard serve` replicas (default 1) against the same MySQL and Restate,
   * each on its own API port, all registered as one Restate deployment: one endpoint URL, an h2c
   * balancer in front of their endpoint ports.
   */
  replicas?: number;
}

/** The listeners a further `switchyard serve` replica needs of its own (the first holds the stack env's). */
export async function replicaListeners(endpointPort?: number): Promise<Record<string, string>> {
  return {
    SWITCHYARD_PORT: String(await freePort()),
    SWITCHYARD_ENDPOINT_PORT: String(endpointPort ?? (await freePort())),
    SWITCHYARD_METRICS_LISTEN: `${LOOPBACK}:${await freePort()}`,
  };
}

export async function startApp(opts: AppOptions = {}): Promise<App> {
  const stack = await startStack(opts);
  try {
    const regions = (opts.env?.SWITCHYARD_REGIONS ?? "local").split(",").map((r) => r.trim());
    const agents = Object.fromEntries(regions.map((region) => [region, randomBytes(24).toString("hex")]));
    const tokens = { acme: randomBytes(24).toString("hex"), globex: randomBytes(24).toString("hex"), agents };
    const env = await stack.switchyardEnv({
      SWITCHYARD_API_TOKENS: `acme=${tokens.acme},globex=${tokens.globex}`,
      SWITCHYARD_AGENT_TOKENS: Object.entries(agents).map(([region, token]) => `${region}=${token}`).join(","),
      SWITCHYARD_PLATFORM_APEX: "switchyard.test-apex.dev",
      SWITCHYARD_MASTER_KEYS: `test-1:${randomBytes(32).toString("base64")}`,
      // Without a Pebble of its own a test must never order from the default CA (Let's Encrypt).
      SWITCHYARD_AUTO_TLS: stack.pebble ? "true" : "false",
      ...(opts.answerHttp01 && stack.pebble ? { SWITCHYARD_PORT: String(stack.pebble.httpPort) } : {}),
      ...opts.env,
    });
    await ensureDatabase(stack.mariadb.url);
    const db = createDb(stack.mariadb.url, { poolSize: 4 });
    await migrateToLatest(db);
    const count = opts.replicas ?? 1;
    const replicaEnvs = [env];
    let endpointBalancer: EndpointBalancer | undefined;
    if (count > 1) {
      for (let i = 1; i < count; i++) {
        replicaEnvs.push({ ...env, ...(await replicaListeners()) });
      }
      endpointBalancer = await startEndpointBalancer(replicaEnvs.map((e) => Number(e.SWITCHYARD_ENDPOINT_PORT)));
      for (const e of replicaEnvs) e.SWITCHYARD_ENDPOINT_URL = endpointBalancer.url;
    }
    const replicas: Switchyard[] = [];
    try {
      for (const [i, e] of replicaEnvs.entries()) replicas.push(await startSwitchyard(e, { name: count > 1 ? `switchyard-${i + 1}` : "switchyard" }));
    } catch (error) {
      await Promise.allSettled([...replicas.map((r) => r.stop()), endpointBalancer?.stop()]);
      throw error;
    }
    const switchyard = replicas[0]!;
    const transports = new Map<string, Transport>();
    const transportFor = (baseUrl: string, protocol: "connect" | "connect-binary" | "grpc", token: string | undefined) => {
      const cacheKey = `${baseUrl}/${protocol}/${token ?? ""}`;
      let transport = transports.get(cacheKey);
      if (!transport) {
        const interceptors: Interceptor[] = token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))];
        transport =
          protocol === "grpc"
            ? createGrpcTransport({ baseUrl, interceptors })
            : createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: protocol === "connect-binary", interceptors });
        transports.set(cacheKey, transport);
      }
      return transport;
    };
    const viewOf = (index: number): App => {
      const replica = replicas[index];
      if (!replica) throw new Error(`startApp: no replica ${index} (${replicas.length} running)`);
      return {
        stack,
        switchyard,
        replicas,
        endpointBalancer,
        viaReplica: viewOf,
        db,
        env,
        tokens,
        client(service, as = "acme", protocol = "connect") {
          const token = typeof as === "string" ? tokens[as] : as.token;
          return createClient(service, transportFor(replica.url, protocol, token));
        },
        async stop() {
          await Promise.allSettled(replicas.map((r) => r.stop()));
          await endpointBalancer?.stop().catch(() => undefined);
          await db.destroy().catch(() => undefined);
          await stack.stop();
        },
      };
    };
    return viewOf(0);
  } catch (error) {
    await stack.stop().catch(() => undefined);
    throw error;
  }
}
