// `switchyard serve` as a real child process: node --import tsx src/main.ts serve, from the
// repository root, with the caller's environment on top of this process's. Ready when its API
// port (SWITCHYARD_PORT) accepts TCP connections and, if `readyPath` is given, answers an HTTP
// GET with any status.

import path from "node:path";
import { repoRoot } from "./binaries.js";
import { canConnect, httpRequest } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

export interface SwitchyardOptions {
  /** Arguments after src/main.ts. Default ["serve"]. */
  args?: string[];
  /** Also wait for an HTTP answer (any status) on this path of the API port, e.g. "/healthz". */
  readyPath?: string;
  /** Readiness deadline per start. Default 15 000 ms. */
  readyTimeoutMs?: number;
  /** Name in messages and logs. Default "switchyard". */
  name?: string;
}

export interface Switchyard {
  /** http://HOST:SWITCHYARD_PORT */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly pids: readonly number[];
  readonly startMs: number;
  readonly env: Readonly<Record<string, string>>;
  readonly process: ManagedProcess;
  kill(): Promise<void>;
  /** Start again with the same environment (same ports); waits until ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

export async function startSwitchyard(env: Record<string, string>, opts: SwitchyardOptions = {}): Promise<Switchyard> {
  const name = opts.name ?? "switchyard";
  const port = Number(env.SWITCHYARD_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`startSwitchyard: env.SWITCHYARD_PORT must be a port (use freePort()), got "${env.SWITCHYARD_PORT}"`);
  }
  const host = env.SWITCHYARD_HOST || "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const baseDir = await makeTempDir(name);
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: ["--import", "tsx", path.join("src", "main.ts"), ...(opts.args ?? ["serve"])],
    env: { ...process.env, ...env },
    cwd: repoRoot,
    logFile: path.join(baseDir, `${name}.log`),
    stopTimeoutMs: 10_000,
  });

  const waitReady = async (): Promise<void> => {
    const deadline = performance.now() + readyTimeoutMs;
    await proc.waitUntil(`TCP connect to ${host}:${port}`, () => canConnect(port, host), readyTimeoutMs, 50);
    if (opts.readyPath !== undefined) {
      const readyUrl = `${url}${opts.readyPath}`;
      await proc.waitUntil(
        `HTTP GET ${readyUrl}`,
        async () => (await httpRequest(readyUrl, { timeoutMs: 1000 })).status > 0,
        Math.max(1000, deadline - performance.now()),
        50,
      );
    }
  };

  let t0 = performance.now();
  proc.start();
  try {
    await waitReady();
  } catch (error) {
    await proc.kill().catch(() => undefined);
    await proc.stop().catch(() => undefined);
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
  let startMs = performance.now() - t0;
  let stopped = false;

  return {
    url,
    port,
    env,
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
    kill: () => proc.kill(),
    async restart() {
      if (stopped) throw new Error(`${name}: restart() after stop()`);
      t0 = performance.now();
      await proc.restart();
      await waitReady();
      startMs = performance.now() - t0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc.stop();
      await removeTempDir(baseDir);
    },
    logs: (maxLines?: number) => proc.logs(maxLines),
  };
}
