// `switchyard serve` as a real child process: node --import tsx src/main.ts serve, from the
// repository root, with the caller's environment on top of this process's. Ready when its API
// port (SWITCHYARD_PORT) accepts TCP connections and, if `readyPath` is given, answers an HTTP
// GET with any status.
//
// With `killAfterStep` the process SIGKILLs itself right after the first step of that name it
// runs (src/faults.ts), once: the marker lives in its temp dir, so restart() runs through. The
// kill is armed for every invocation the process serves — also ones Restate delivers as soon as
// the endpoint listens, before the API does — so call stack.restate.waitUntilQuiet() before
// stopping the switchyard this one replaces. faultHit() says which invocation it hit, and a
// death by the fault is named as such in failures.

import path from "node:path";
import { repoRoot } from "./binaries.js";
import { canConnect, httpRequest } from "./net.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";
import { readFaultMarker, type FaultHit } from "../../src/faults.js";
import { SWITCHYARD_START_TIMEOUT_MS, switchyardArgs } from "./switchyardCommand.js";

export interface SwitchyardOptions {
  /** Arguments after src/main.ts. Default ["serve"]. */
  args?: string[];
  /** Also wait for an HTTP answer (any status) on this path of the API port, e.g. "/healthz". */
  readyPath?: string;
  /** Readiness deadline per start. Default 15 000 ms. */
  readyTimeoutMs?: number;
  /** Name in messages and logs. Default "switchyard". */
  name?: string;
  /** Arm SWITCHYARD_FAULT_KILL_AFTER_STEP with this step name (one-shot, see above). */
  killAfterStep?: string;
}

export interface Switchyard {
  /** http://HOST:SWITCHYARD_PORT */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly pids: readonly number[];
  readonly startMs: number;
  /** The environment it was started with (without the fault variables of killAfterStep). */
  readonly env: Readonly<Record<string, string>>;
  readonly process: ManagedProcess;
  kill(): Promise<void>;
  /** Start again with the same environment (same ports); waits until ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
  /** Where the killAfterStep fault fired (which invocation), once it has. */
  faultHit(): FaultHit | undefined;
}

export async function startSwitchyard(env: Record<string, string>, opts: SwitchyardOptions = {}): Promise<Switchyard> {
  const name = opts.name ?? "switchyard";
  const port = Number(env.SWITCHYARD_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`startSwitchyard: env.SWITCHYARD_PORT must be a port (use freePort()), got "${env.SWITCHYARD_PORT}"`);
  }
  const host = env.SWITCHYARD_HOST || "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const readyTimeoutMs = opts.readyTimeoutMs ?? SWITCHYARD_START_TIMEOUT_MS;
  const baseDir = await makeTempDir(name);
  const marker = path.join(baseDir, "fault-marker.json");
  const fault = opts.killAfterStep ? { SWITCHYARD_FAULT_KILL_AFTER_STEP: opts.killAfterStep, SWITCHYARD_FAULT_MARKER: marker } : {};
  const faultHit = () => (opts.killAfterStep ? readFaultMarker(marker) : undefined);
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: switchyardArgs(...(opts.args ?? ["serve"])),
    env: { ...process.env, ...env, ...fault },
    cwd: repoRoot,
    logFile: path.join(baseDir, `${name}.log`),
    stopTimeoutMs: 10_000,
    explainSignal: (pid) => {
      const hit = faultHit();
      if (hit?.pid !== pid) return undefined;
      return `a fault marker: itself, after step "${hit.step}" of ${hit.target} (${hit.invocationId}), as SWITCHYARD_FAULT_KILL_AFTER_STEP asked`;
    },
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

  const t0 = performance.now();
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
    ...processControls(name, proc, { ready: waitReady, restarted: (ms) => (startMs = ms), cleanup: () => removeTempDir(baseDir) }),
    faultHit,
  };
}
