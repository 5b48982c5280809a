/*
 * npm run bench:promote — promote latency and throughput, each against a baseline measured in
 * the same run, on the real stack (MariaDB, restate-server, switchyard serve). Writes
 * bench/results/promote.json.
 *
 *   promote            Connect Promote → ingress → Project object → one swap transaction,
 *                      alternating two deployments of a project with 10 live hostnames
 *   baseline           a Restate virtual-object call (this process's endpoint) that runs the same
 *                      swap transaction in one ctx.run, alternating on a twin project
 *   1000 hostnames     the same promote on a project with 1,000 live hostnames
 *   throughput         32 concurrent clients over 100 projects vs. the same clients on one project
 *   telemetry          the same promote with tracing on (OTLP/HTTP, every span exported) and
 *                      /metrics scraped, and with tracing configured but nothing sampled, against
 *                      telemetry off, in rotating blocks (lib/telemetryOverhead.ts);
 *                      BENCH_ONLY=telemetry runs only this section
 */
import "../src/polyfill.js";
import * as restate from "@restatedev/restate-sdk";
import * as clients from "@restatedev/restate-sdk-clients";
import { DeployService } from "../src/gen/ctrl/v1/deploy_pb.js";
import { swapLive } from "../src/routing/liveSwap.js";
import { serveBenchServices } from "./lib/endpoint.js";
import { promoteThroughput, projectWithHostnames, type Pair } from "./lib/promoteLoad.js";
import { report } from "./lib/report.js";
import { telemetryOverhead } from "./lib/telemetryOverhead.js";
import { percentile, round, rssMb, timeIt } from "./lib/stats.js";
import { startApp, type App } from "../test/support/app.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const WARMUP = 30;
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 5000);
const CLIENTS = 32;
const APEX = "switchyard.test-apex.dev";
// BENCH_ONLY=telemetry runs only the telemetry section (a few minutes instead of the whole bench).
const TELEMETRY_ONLY = process.env.BENCH_ONLY === "telemetry";

/** Promote latencies (ms) alternating a → b → a … through the public API. */
function promoteLatencies(app: App, pair: Pair, iterations: number): Promise<number[]> {
  const client = app.client(DeployService);
  return timeIt(iterations, WARMUP, (i) => client.promote({ deploymentId: i % 2 === 0 ? pair.a : pair.b }));
}

/** The baseline: the same swap transaction inside one ctx.run of a virtual-object call. */
async function baselineLatencies(app: App, pair: Pair, iterations: number): Promise<number[]> {
  const db = app.db;
  const baseline = restate.object({
    name: "BenchPromoteBaseline",
    handlers: {
      swap: async (ctx: restate.ObjectContext, target: string) =>
        ctx
          .run("swap", () => db.transaction().execute((trx) => swapLive(trx, { projectId: ctx.key, targetDeploymentId: target, mode: "promote", platformApex: APEX })))
          .then((r) => r.version),
    },
  });
  const endpoint = await serveBenchServices(app.stack.restate.adminUrl, [baseline]);
  try {
    const object = clients.connect({ url: app.stack.restate.ingressUrl }).objectClient(baseline, pair.fixture.projectId);
    return await timeIt(iterations, WARMUP, (i) => object.swap(i % 2 === 0 ? pair.a : pair.b));
  } finally {
    endpoint.close();
  }
}

async function main() {
  // Telemetry off here (no tracing, no metrics endpoint); the telemetry section turns it on.
  const app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_METRICS_LISTEN: "" } });
  try {
    console.log("setting up projects …");
    const ten = await projectWithHostnames(app, 10);
    if (TELEMETRY_ONLY) {
      console.log(`telemetry off / context only / on ×${ITERATIONS} each, in rotating blocks …`);
      report("promote-telemetry", { ...(await telemetryOverhead(app, ten, ITERATIONS, WARMUP)), iterations: ITERATIONS });
      return;
    }
    const twin = await projectWithHostnames(app, 10);
    const thousand = await projectWithHostnames(app, 1000);

    console.log(`promote ×${ITERATIONS} (10 hostnames) …`);
    const promote = await promoteLatencies(app, ten, ITERATIONS);
    console.log(`baseline ×${ITERATIONS} …`);
    const base = await baselineLatencies(app, twin, ITERATIONS);
    console.log("promote ×100 (1,000 hostnames) …");
    const big = await promoteLatencies(app, thousand, 100);

    console.log("throughput: 100 projects …");
    const many: Pair[] = [];
    for (let i = 0; i < 100; i++) many.push(await projectWithHostnames(app, 2, ten.fixture));
    const spread = await promoteThroughput([app.client(DeployService)], many, CLIENTS, THROUGHPUT_MS);
    console.log("throughput: one project …");
    const single = await promoteThroughput([app.client(DeployService)], [many[0]!], CLIENTS, THROUGHPUT_MS);
    console.log(`telemetry off / context only / on ×${ITERATIONS} each, in rotating blocks …`);
    const telemetry = await telemetryOverhead(app, ten, ITERATIONS, WARMUP);

    report("promote", {
      promote_p50_ms: round(percentile(promote, 50)),
      promote_p99_ms: round(percentile(promote, 99)),
      baseline_p50_ms: round(percentile(base, 50)),
      baseline_p99_ms: round(percentile(base, 99)),
      ratio_to_baseline: round(percentile(promote, 50) / percentile(base, 50)),
      promote_1000_p50_ms: round(percentile(big, 50)),
      ratio_1000_to_10: round(percentile(big, 50) / percentile(promote, 50)),
      throughput_many_projects: spread.perSecond,
      throughput_one_project: single.perSecond,
      parallel_ratio: round(spread.perSecond / single.perSecond),
      throughput_refused_one_project: single.refused,
      serve_rss_mb: await rssMb(app.switchyard.pid),
      ...telemetry,
      iterations: ITERATIONS,
      clients: CLIENTS,
    });
  } finally {
    await app.stop();
  }
}

await main();
