// A private Caddy: admin API and one HTTP server on free loopback ports, HOME/XDG dirs and
// storage inside its temp dir, automatic HTTPS off.
//
// POST /load replaces the whole config, admin block included: load() re-inserts the harness's
// admin block (and storage) so the admin API stays on its port, and remembers the config so a
// restart() comes back with it. Clients may see connection resets while Caddy reloads.

import fs from "node:fs";
import path from "node:path";
import { requireBinary } from "./binaries.js";
import { canConnect, freePort, httpRequest, LOOPBACK, looksLikePortClash, type HttpResponse } from "./net.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

export type CaddyConfig = Record<string, unknown>;
export type CaddyRoute = Record<string, unknown>;

export interface CaddyOptions {
  /** Readiness deadline per start. Default 10 000 ms. */
  readyTimeoutMs?: number;
  /** Routes of the initial server (before the catch-all 404). */
  routes?: CaddyRoute[];
}

export interface Caddy {
  /** http://127.0.0.1:PORT — the admin API. */
  readonly adminUrl: string;
  readonly adminPort: number;
  /** Port of the HTTP server of the default config (and of serverConfig()). */
  readonly httpPort: number;
  /** Port given to the http app as https_port (free; nothing listens unless a config says so). */
  readonly httpsPort: number;
  readonly baseDir: string;
  readonly pid: number;
  readonly pids: readonly number[];
  readonly startMs: number;
  readonly process: ManagedProcess;
  /** A full config: one server on httpPort with `routes` then a catch-all 404, automatic HTTPS off. */
  serverConfig(routes?: CaddyRoute[]): CaddyConfig;
  /** POST /load with the harness's admin and storage blocks put back; resolves once applied. */
  load(config: CaddyConfig): Promise<void>;
  /** The running config (GET /config/). */
  config(): Promise<CaddyConfig>;
  /** GET http://127.0.0.1:httpPort<path> with a Host header (fetch cannot send one). */
  get(hostHeader: string, urlPath?: string): Promise<HttpResponse>;
  kill(): Promise<void>;
  /** Start again on the same ports with the last loaded config. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

export async function startCaddy(opts: CaddyOptions = {}): Promise<Caddy> {
  const caddyBin = requireBinary("caddy", "caddy");
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const baseDir = await makeTempDir("caddy");
  try {
    const dirs = { config: path.join(baseDir, "config"), data: path.join(baseDir, "data"), cache: path.join(baseDir, "cache") };
    for (const dir of Object.values(dirs)) await fs.promises.mkdir(dir, { recursive: true });
    const configFile = path.join(baseDir, "caddy.json");

    for (let attempt = 1; ; attempt++) {
      const adminPort = await freePort();
      const httpPort = await freePort();
      const httpsPort = await freePort();
      const adminUrl = `http://${LOOPBACK}:${adminPort}`;
      const adminBlock = { listen: `${LOOPBACK}:${adminPort}`, config: { persist: false } };
      const storage = { module: "file_system", root: dirs.data };

      const withHarnessBlocks = (config: CaddyConfig): CaddyConfig => ({
        ...config,
        admin: adminBlock,
        storage: config.storage ?? storage,
      });
      const serverConfig = (routes: CaddyRoute[] = []): CaddyConfig =>
        withHarnessBlocks({
          logging: { logs: { default: { level: "WARN" } } },
          apps: {
            http: {
              http_port: httpPort,
              https_port: httpsPort,
              servers: {
                switchyard: {
                  listen: [`${LOOPBACK}:${httpPort}`],
                  automatic_https: { disable: true },
                  routes: [
                    ...routes,
                    { handle: [{ handler: "static_response", status_code: 404, body: "no route\n" }] },
                  ],
                },
              },
            },
          },
        });

      await fs.promises.writeFile(configFile, JSON.stringify(serverConfig(opts.routes), null, 2));
      const proc = new ManagedProcess({
        name: "caddy",
        command: caddyBin,
        args: ["run", "--config", configFile],
        env: {
          PATH: process.env.PATH,
          HOME: baseDir,
          XDG_CONFIG_HOME: dirs.config,
          XDG_DATA_HOME: dirs.data,
          XDG_CACHE_HOME: dirs.cache,
        },
        cwd: baseDir,
        logFile: path.join(baseDir, "caddy.log"),
      });

      const waitReady = async (): Promise<void> => {
        const deadline = performance.now() + readyTimeoutMs;
        const left = () => Math.max(1000, deadline - performance.now());
        await proc.waitUntil(
          `admin ${adminUrl}/config/`,
          async () => (await httpRequest(`${adminUrl}/config/`, { timeoutMs: 1000 })).status === 200,
          left(),
        );
      };

      const t0 = performance.now();
      proc.start();
      try {
        await waitReady();
        await proc.waitUntil(`HTTP server on ${LOOPBACK}:${httpPort}`, () => canConnect(httpPort), readyTimeoutMs);
      } catch (error) {
        await proc.kill().catch(() => undefined);
        await proc.stop().catch(() => undefined);
        if (attempt < 3 && looksLikePortClash(proc.logs(30))) continue;
        throw error;
      }
      let startMs = performance.now() - t0;

      return {
        adminUrl,
        adminPort,
        httpPort,
        httpsPort,
        baseDir,
        get pid() {
          return proc.pid;
        },
        get pids() {
          return proc.pids;
        },
        get startMs() {
          return startMs;
        },
        process: proc,
        serverConfig,
        async load(config) {
          const full = withHarnessBlocks(config);
          const body = JSON.stringify(full);
          const res = await httpRequest(`${adminUrl}/load`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            timeoutMs: 10_000,
          });
          if (res.status !== 200) throw proc.failure(`POST /load answered ${res.status}: ${res.body}`);
          await fs.promises.writeFile(configFile, JSON.stringify(full, null, 2));
        },
        async config() {
          const res = await httpRequest(`${adminUrl}/config/`);
          if (res.status !== 200) throw proc.failure(`GET /config/ answered ${res.status}: ${res.body}`);
          return JSON.parse(res.body) as CaddyConfig;
        },
        get: (hostHeader, urlPath = "/") =>
          httpRequest(`http://${LOOPBACK}:${httpPort}${urlPath}`, { headers: { host: hostHeader } }),
        ...processControls("caddy", proc, { ready: waitReady, restarted: (ms) => (startMs = ms), cleanup: () => removeTempDir(baseDir) }),
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
