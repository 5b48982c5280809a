// A private single-node restate-server: temp base dir, every listener on a free loopback port
// (ingress, admin + UI, node-to-node fabric), TCP only (no unix sockets), two partitions, a
// small RocksDB budget, no telemetry. restart() reuses the same ports and base dir, so the
// journal, state and registered deployments survive a SIGKILL.
//
// waitUntilQuiet() waits for every invocation that is running or about to run (retrying,
// suspended, queued) to end — before a test swaps the switchyard that serves them for one armed
// with a fault, so the fault can only hit work the test starts afterwards.

import path from "node:path";
import { restateServerBinary } from "./binaries.js";
import { healthy, restateServerEnv } from "../../src/dev/restate.js";
import { ensureIdentityKeyPair } from "../../src/restate/identityKeys.js";
import { queryAdmin } from "../../src/restate/admin.js";
import { freePort, LOOPBACK, looksLikePortClash } from "./net.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, removeTempDir, sleep } from "./process.js";

export interface RestateOptions {
  /** Readiness deadline per start. Default 15 000 ms. */
  readyTimeoutMs?: number;
  /** Partitions provisioned at first start. Default 2. */
  partitions?: number;
  /** Extra RESTATE_* variables (override the harness defaults). */
  env?: Record<string, string>;
}

export interface Restate {
  /** http://127.0.0.1:PORT — invoke services here. */
  readonly ingressUrl: string;
  /** http://127.0.0.1:PORT — admin API (/deployments, /query, /health) and the UI at /ui/. */
  readonly adminUrl: string;
  readonly ingressPort: number;
  readonly adminPort: number;
  /** Node-to-node (message fabric) port. */
  readonly nodePort: number;
  readonly baseDir: string;
  /** `publickeyv1_…` of the key this server signs its requests with (for SWITCHYARD_RESTATE_IDENTITY_KEYS). */
  readonly identityKey: string;
  readonly pid: number;
  readonly pids: readonly number[];
  /** Milliseconds the last start took until admin and ingress were healthy. */
  readonly startMs: number;
  readonly process: ManagedProcess;
  /** Invocations not completed, except delayed calls not yet due (Restate's sys_invocation). */
  inFlight(): Promise<InvocationInFlight[]>;
  /** Waits (bounded, default 30 s) until inFlight() is empty; the error lists what still runs. */
  waitUntilQuiet(timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
  /** Start again with the same ports and base dir (state kept); waits until healthy. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

export interface InvocationInFlight {
  id: string;
  /** service/key/handler */
  target: string;
  /** pending, ready, running, backing-off, suspended, paused */
  status: string;
}

export async function startRestate(opts: RestateOptions = {}): Promise<Restate> {
  const binary = restateServerBinary();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const baseDir = await makeTempDir("restate");
  // Like production: restate-server signs every request, and switchyard checks the signature.
  const identity = ensureIdentityKeyPair(baseDir);
  try {
    for (let attempt = 1; ; attempt++) {
      const [ingressPort, adminPort, nodePort] = [await freePort(), await freePort(), await freePort()];
      const ingressUrl = `http://${LOOPBACK}:${ingressPort}`;
      const adminUrl = `http://${LOOPBACK}:${adminPort}`;
      const proc = new ManagedProcess({
        name: "restate-server",
        command: binary,
        args: ["--no-logo"],
        env: {
          ...restateServerEnv({
            baseDir,
            ingressPort,
            adminPort,
            nodePort,
            nodeName: "switchyard-test",
            partitions: opts.partitions ?? 2,
          }),
          RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE: identity.pemFile,
          ...opts.env,
        },
        cwd: baseDir,
        logFile: path.join(baseDir, "restate-server.log"),
        stopTimeoutMs: 10_000,
      });

      const waitReady = async (): Promise<void> => {
        const deadline = performance.now() + readyTimeoutMs;
        const left = () => Math.max(1000, deadline - performance.now());
        await proc.waitUntil(`admin ${adminUrl}/health`, () => healthy(`${adminUrl}/health`), left());
        await proc.waitUntil(`ingress ${ingressUrl}/restate/health`, () => healthy(`${ingressUrl}/restate/health`), left());
      };

      const t0 = performance.now();
      proc.start();
      try {
        await waitReady();
      } catch (error) {
        await proc.kill().catch(() => undefined);
        await proc.stop().catch(() => undefined);
        if (attempt < 3 && looksLikePortClash(proc.logs(80))) continue;
        throw error;
      }
      let startMs = performance.now() - t0;
      const inFlight = () =>
        queryAdmin<InvocationInFlight>(adminUrl, "SELECT id, target, status FROM sys_invocation WHERE status NOT IN ('completed', 'scheduled') ORDER BY created_at");

      return {
        ingressUrl,
        adminUrl,
        ingressPort,
        adminPort,
        nodePort,
        baseDir,
        identityKey: identity.publicKey,
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
        inFlight,
        async waitUntilQuiet(timeoutMs = 30_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const running = await inFlight();
            if (running.length === 0) return;
            if (Date.now() >= deadline) {
              const list = running.map((i) => `${i.target} ${i.status} (${i.id})`).join(", ");
              throw proc.failure(`invocations still in flight after ${timeoutMs} ms: ${list}`);
            }
            await sleep(100);
          }
        },
        ...processControls("restate-server", proc, { ready: waitReady, restarted: (ms) => (startMs = ms), cleanup: () => removeTempDir(baseDir) }),
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
