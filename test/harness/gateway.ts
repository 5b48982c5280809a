// `switchyard gateway` as a real child process (node --import tsx src/main.ts gateway) driving two
// harness Caddys: the routing one it is given (its two loopback servers take that Caddy's
// httpPort / httpsPort) and a front one it starts (the client listeners: the front's httpPort,
// or the one asked for, and httpsPort). Its state directory is in a temp dir. Restartable and
// SIGKILL-able like the agent; the front lives as long as the harness gateway.

import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "./binaries.js";
import { startCaddy, type Caddy } from "./caddy.js";
import { freePort, LOOPBACK } from "./net.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";
import { SWITCHYARD_START_TIMEOUT_MS, switchyardArgs } from "./switchyardCommand.js";

export interface GatewayOptions {
  url: string;
  /** A region credential (SWITCHYARD_GATEWAY_TOKEN). */
  token: string;
  /** The routing Caddy (reloaded on every change). */
  caddy: Caddy;
  region?: string;
  env?: Record<string, string>;
  name?: string;
  /** Port of the HTTP server (default: the Caddy's httpPort; e.g. Pebble's HTTP-01 port instead). */
  httpPort?: number;
}

export interface Gateway {
  readonly stateDir: string;
  readonly process: ManagedProcess;
  /** The front Caddy (client listeners, TLS), started and stopped with this gateway. */
  readonly front: Caddy;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** "127.0.0.1:PORT" of its /metrics endpoint. */
  readonly metricsAddress: string;
  /** SIGKILL. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
  /** The version in state.json (0 before the first apply). */
  appliedVersion(): bigint;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const name = opts.name ?? "gateway";
  const baseDir = await makeTempDir(name);
  const stateDir = path.join(baseDir, "state");
  let front: Caddy;
  try {
    front = await startCaddy();
  } catch (error) {
    await removeTempDir(baseDir);
    throw error;
  }
  const httpPort = opts.httpPort ?? front.httpPort;
  const metricsAddress = `${LOOPBACK}:${await freePort()}`;
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: switchyardArgs("gateway"),
    env: {
      ...process.env,
      SWITCHYARD_LOG_LEVEL: "info",
      SWITCHYARD_URL: opts.url,
      SWITCHYARD_GATEWAY_TOKEN: opts.token,
      SWITCHYARD_GATEWAY_METRICS_LISTEN: metricsAddress,
      SWITCHYARD_GATEWAY_REGION: opts.region ?? "local",
      SWITCHYARD_GATEWAY_CADDY_ADMIN: opts.caddy.adminUrl,
      SWITCHYARD_GATEWAY_FRONT_ADMIN: front.adminUrl,
      SWITCHYARD_GATEWAY_HTTP_LISTEN: `${LOOPBACK}:${httpPort}`,
      SWITCHYARD_GATEWAY_HTTPS_LISTEN: `${LOOPBACK}:${front.httpsPort}`,
      SWITCHYARD_GATEWAY_ROUTING_HTTP_LISTEN: `${LOOPBACK}:${opts.caddy.httpPort}`,
      SWITCHYARD_GATEWAY_ROUTING_HTTPS_LISTEN: `${LOOPBACK}:${opts.caddy.httpsPort}`,
      SWITCHYARD_GATEWAY_STATE_DIR: stateDir,
      SWITCHYARD_GATEWAY_CADDY_DATA_DIR: path.join(opts.caddy.baseDir, "data"),
      SWITCHYARD_GATEWAY_CHECK_INTERVAL: "500ms",
      ...opts.env,
    },
    cwd: repoRoot,
    logFile: path.join(baseDir, `${name}.log`),
    stopTimeoutMs: 20_000,
  });
  const lockFile = path.join(stateDir, "gateway.lock");
  const waitReady = () =>
    proc.waitUntil(
      "the gateway to claim its state directory",
      async () => {
        try {
          return JSON.parse(fs.readFileSync(lockFile, "utf8")).pid === proc.pid;
        } catch {
          return false;
        }
      },
      SWITCHYARD_START_TIMEOUT_MS,
    );
  proc.start();
  try {
    await waitReady();
  } catch (error) {
    await proc.kill().catch(() => undefined);
    await front.stop().catch(() => undefined);
    throw error;
  }
  return {
    stateDir,
    process: proc,
    front,
    httpPort,
    httpsPort: front.httpsPort,
    metricsAddress,
    ...processControls(name, proc, {
      ready: waitReady,
      async cleanup() {
        await front.stop();
        await removeTempDir(baseDir);
      },
    }),
    appliedVersion() {
      try {
        return BigInt(JSON.parse(fs.readFileSync(path.join(stateDir, "state.json"), "utf8")).appliedVersion);
      } catch {
        return 0n;
      }
    },
  };
}
