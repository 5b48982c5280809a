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
 */
import "../src/polyfill.js";
import { randomBytes } from "node:crypto";
import * as restate from "@restatedev/restate-sdk";
import * as clients from "@restatedev/restate-sdk-clients";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService } from "../src/gen/ctrl/v1/deploy_pb.js";
import { RoutingService } from "../src/gen/ctrl/v1/routing_pb.js";
import { StickyLevel } from "../src/gen/ctrl/v1/resources_pb.js";
import { swapLive } from "../src/routing/liveSwap.js";
import { serveBenchServices } from "./lib/endpoint.js";
import { report } from "./lib/report.js";
import { percentile, round, rssMb, timeIt } from "./lib/stats.js";
import { startApp, type App } from "../test/support/app.js";
import { createProject, deploy, type ProjectFixture } from "../test/support/fixtures.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const WARMUP = 30;
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 5000);
const CLIENTS = 32;
const APEX = "switchyard.test-apex.dev";

interface Pair {
  fixture: ProjectFixture;
  a: string;
  b: string;
}

/** A project with two ready production deployments and `hostnames` live-level hostnames. */
async function projectWithHostnames(app: App, hostnames: number, workspace?: ProjectFixture): Promise<Pair> {
  const fixture = await createProject(app, "acme", [], workspace);
  const a = (await deploy(app, fixture)).id;
  const b = (await deploy(app, fixture)).id; // live
  const extra = hostnames - 2; // the live and production-environment hostnames exist already
  for (let start = 0; start < extra; start += 1000) {
    const count = Math.min(1000, extra - start);
    await app.client(RoutingService).assignDomains({
      projectId: fixture.projectId,
      deploymentId: b,
      domains: Array.from({ length: count }, (_, i) => ({ hostname: `live-${start + i}-${fixture.projectSlug}.${APEX}`, sticky: StickyLevel.LIVE })),
    });
  }
  const live = await app.db.selectFrom("routes").select((eb) => eb.fn.countAll<number>().as("n")).where("project_id", "=", fixture.projectId).where("sticky", "in", ["live", "environment"]).executeTakeFirstOrThrow();
  if (Number(live.n) !== hostnames) throw new Error(`expected ${hostnames} live-level hostnames, found ${live.n}`);
  return { fixture, a, b };
}

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

/** Completed promote calls per second for `CLIENTS` clients spread over `pairs`. */
async function throughput(app: App, pairs: Pair[]): Promise<{ perSecond: number; succeeded: number; refused: number }> {
  const client = app.client(DeployService);
  const deadline = performance.now() + THROUGHPUT_MS;
  let succeeded = 0;
  let refused = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const pair = pairs[(c + i * CLIENTS) % pairs.length]!;
        const target = (c + i) % 2 === 0 ? pair.a : pair.b;
        try {
          // A unique key skips the API's pre-check: every call goes through the project's lock.
          await client.promote({ deploymentId: target, idempotencyKey: randomBytes(8).toString("hex") });
          succeeded++;
        } catch (error) {
          if (ConnectError.from(error).code !== Code.FailedPrecondition) throw error;
          refused++; // lost a race: the target was already live — still a locked transaction
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: round((succeeded + refused) / seconds), succeeded, refused };
}

async function main() {
  const app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_LOG_LEVEL: "warn" } });
  try {
    console.log("setting up projects …");
    const ten = await projectWithHostnames(app, 10);
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
    const spread = await throughput(app, many);
    console.log("throughput: one project …");
    const single = await throughput(app, [many[0]!]);

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
      iterations: ITERATIONS,
      clients: CLIENTS,
    });
  } finally {
    await app.stop();
  }
}

await main();
