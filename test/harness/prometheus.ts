// A private Prometheus (Debian package `prometheus`) scraping the processes a test names:
//
//   prometheus --config.file <tempdir>/prometheus.yml --storage.tsdb.path <tempdir>/data
//              --web.listen-address 127.0.0.1:<port>
//     one job per target ("switchyard", "agent", …), scraped every 500 ms from loopback.
//   ready: GET /-/ready answers 200.
//
// query() asks its HTTP API (/api/v1/query) and returns the vector; waitFor() polls a query
// until it has a sample (bounded). stop() SIGTERMs it and removes the temp dir.

import fs from "node:fs";
import path from "node:path";
import { requireBinary } from "./binaries.js";
import { freePort, httpRequest, LOOPBACK, looksLikePortClash } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

export interface PrometheusOptions {
  /** Job name → "host:port" of a /metrics endpoint. */
  targets: Record<string, string>;
  scrapeIntervalMs?: number;
  readyTimeoutMs?: number;
}

export interface PrometheusSample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  readonly url: string;
  readonly process: ManagedProcess;
  /** An instant query: every series of the result with its value. */
  query(promql: string): Promise<PrometheusSample[]>;
  /** Polls `promql` until `accept` takes its result (default: at least one sample); bounded. */
  waitFor(promql: string, timeoutMs?: number, accept?: (samples: PrometheusSample[]) => boolean): Promise<PrometheusSample[]>;
  /** The scrape targets and their health as Prometheus sees them. */
  targets(): Promise<{ job: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

function configText(targets: Record<string, string>, intervalMs: number): string {
  const jobs = Object.entries(targets).map(([job, target]) => [`  - job_name: "${job}"`, `    static_configs:`, `      - targets: ["${target}"]`].join("\n"));
  return [
    "global:",
    `  scrape_interval: ${intervalMs}ms`,
    `  scrape_timeout: ${Math.max(100, intervalMs - 50)}ms`,
    `  evaluation_interval: ${intervalMs}ms`,
    "scrape_configs:",
    ...jobs,
    "",
  ].join("\n");
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const binary = requireBinary("prometheus", "prometheus");
  const baseDir = await makeTempDir("prometheus");
  const intervalMs = opts.scrapeIntervalMs ?? 500;
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = path.join(baseDir, "prometheus.yml");
      await fs.promises.writeFile(configFile, configText(opts.targets, intervalMs));
      const proc = new ManagedProcess({
        name: "prometheus",
        command: binary,
        args: [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${path.join(baseDir, "data")}`,
          `--web.listen-address=${LOOPBACK}:${port}`,
          "--log.level=warn",
        ],
        env: { PATH: process.env.PATH, HOME: baseDir },
        cwd: baseDir,
        logFile: path.join(baseDir, "prometheus.log"),
      });
      const url = `http://${LOOPBACK}:${port}`;
      proc.start();
      try {
        await proc.waitUntil(`prometheus ready on ${url}`, async () => (await httpRequest(`${url}/-/ready`, { timeoutMs: 1000 })).status === 200, opts.readyTimeoutMs ?? 20_000, 50);
      } catch (error) {
        await proc.stop().catch(() => undefined);
        if (attempt < 3 && looksLikePortClash(proc.logs(30))) continue;
        throw error;
      }
      const api = async <T>(pathAndQuery: string): Promise<T> => {
        const response = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(5000) });
        const body = (await response.json()) as { status: string; data: T; error?: string };
        if (body.status !== "success") throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? response.status}`);
        return body.data;
      };
      const query = async (promql: string): Promise<PrometheusSample[]> => {
        const data = await api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
      };
      let stopped: Promise<void> | undefined;
      return {
        url,
        process: proc,
        query,
        async waitFor(promql, timeoutMs = 15_000, accept = (samples) => samples.length > 0) {
          const deadline = performance.now() + timeoutMs;
          let last: PrometheusSample[] = [];
          while (performance.now() < deadline) {
            last = await query(promql);
            if (accept(last)) return last;
            await new Promise((resolve) => setTimeout(resolve, Math.min(250, intervalMs)));
          }
          throw new Error(`prometheus: "${promql}" did not give the expected result within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
        },
        async targets() {
          const data = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>("/api/v1/targets");
          return data.activeTargets.map((t) => ({ job: t.labels.job ?? "", health: t.health, lastError: t.lastError }));
        },
        stop() {
          stopped ??= (async () => {
            await proc.stop();
            await removeTempDir(baseDir);
          })();
          return stopped;
        },
        logs: (maxLines?: number) => proc.logs(maxLines),
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
