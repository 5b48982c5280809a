// A private single-node restate-server: temp base dir, every listener on a free loopback port
// (ingress, admin + UI, node-to-node fabric), TCP only (no unix sockets), two partitions, a
// small RocksDB budget, no telemetry. restart() reuses the same ports and base dir, so the
// journal, state and registered deployments survive a SIGKILL.

import path from "node:path";
import { restateServerBinary } from "./binaries.js";
import { healthy, restateServerEnv } from "../../src/dev/restate.js";
import { freePort, LOOPBACK, looksLikePortClash } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

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
  readonly pid: number;
  readonly pids: readonly number[];
  /** Milliseconds the last start took until admin and ingress were healthy. */
  readonly startMs: number;
  readonly process: ManagedProcess;
  kill(): Promise<void>;
  /** Start again with the same ports and base dir (state kept); waits until healthy. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

export async function startRestate(opts: RestateOptions = {}): Promise<Restate> {
  const binary = restateServerBinary();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const baseDir = await makeTempDir("restate");
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

      let t0 = performance.now();
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
      let stopped = false;

      return {
        ingressUrl,
        adminUrl,
        ingressPort,
        adminPort,
        nodePort,
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
        kill: () => proc.kill(),
        async restart() {
          if (stopped) throw new Error("restate-server: restart() after stop()");
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
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
