/*
 * npm run bench:agent — how fast desired state reaches the agents, and what the change feed costs
 * the database, on the real stack (MariaDB, restate-server, switchyard serve). Writes
 * bench/results/agent.json. Each section is a function returning its figures; add a section to
 * SECTIONS to measure more in the same run (and the same file).
 *
 *   propagation       a topology change committed by this process — to switchyard, another
 *                     replica, which learns of it only by polling — until its receipt on a
 *                     WatchDeployments stream; 500 changes (about 25 a second) with 1 stream, then
 *                     with 100 streams (every stream's receipt is a sample)
 *   baseline          the same changes seen by a loop in this process polling `version > cursor`
 *                     on MySQL directly at the same interval: the floor of any polling design
 *   local             a change committed inside switchyard (a Promote through the API): the
 *                     commit wakes the tailer, no poll involved; measured from the change's
 *                     created_at (set before the commit, so this errs high)
 *   feed queries      MariaDB's Com_select over an idle interval with 1 and with 100 streams open
 *                     (switchyard is the only client; nothing else of it runs meanwhile)
 *   serve CPU         switchyard's user+system CPU over a propagation run, per change (polls included)
 *   deploy overhead   CreateDeployment → ready through a real agent, minus the sample app's own
 *                     time to its first healthy answer (bench/lib/deployOverhead.ts; runs last,
 *                     with its own project, since its agent takes over the region)
 */
import "../src/polyfill.js";
import { setMaxListeners } from "node:events";
import { sql } from "kysely";
import { currentChangeVersion, readChanges } from "../src/db/changes.js";
import { ClusterService, type WatchDeploymentsResponse, type WatchGatewayConfigsResponse } from "../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService } from "../src/gen/ctrl/v1/deploy_pb.js";
import { bumpTopologyVersions } from "../src/db/topology.js";
import { measureDeployOverhead } from "./lib/deployOverhead.js";
import { report } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";
import { startApp, type App } from "../test/support/app.js";
import { createProject, deploy, type ProjectFixture } from "../test/support/fixtures.js";

const CHANGES = Number(process.env.BENCH_CHANGES ?? 500);
const STREAMS = 100;
const POLL_MS = Number(process.env.BENCH_FEED_POLL_MS ?? 25);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5000);
const LOCAL_PROMOTES = Number(process.env.BENCH_LOCAL_PROMOTES ?? 100);
/** Mean pause between two committed changes (a busy region, not a saturated one). */
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 40);

interface BenchContext {
  app: App;
  fixture: ProjectFixture;
  /** Two ready production deployments of `fixture`; `b` is live. */
  a: string;
  b: string;
}

type Section = (ctx: BenchContext) => Promise<Record<string, number>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** `count` WatchDeployments streams from the current position, each noting when every version arrived. */
async function openDeploymentStreams(ctx: BenchContext, count: number) {
  // Binary, as an agent would: JSON would spend the time measured here on encoding.
  const agent = ctx.app.client(ClusterService, { token: ctx.app.tokens.agents.local! }, "connect-binary");
  const from = BigInt(await currentChangeVersion(ctx.app.db));
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one signal for all the streams
  const receipts = Array.from({ length: count }, () => new Map<number, number>());
  const failures: unknown[] = [];
  const running = receipts.map(async (seen) => {
    try {
      for await (const message of agent.watchDeployments({ region: "local", fromVersion: from, agentId: "bench" }, { signal: controller.signal }) as AsyncIterable<WatchDeploymentsResponse>) {
        seen.set(Number(message.version), performance.now());
      }
    } catch (error) {
      if (!controller.signal.aborted) failures.push(error);
    }
  });
  return {
    receipts,
    failures,
    async close() {
      controller.abort();
      await Promise.all(running);
    },
  };
}

/** Commits one topology change of `deploymentId` from this process; returns its version and commit time. */
async function commitTopologyChange(ctx: BenchContext, i: number): Promise<{ version: number; at: number }> {
  const version = await ctx.app.db.transaction().execute(async (trx) => {
    await trx.updateTable("deployment_topology").set({ replicas: 1 + (i % 3) }).where("deployment_id", "=", ctx.b).execute();
    return bumpTopologyVersions(trx, ctx.b);
  });
  return { version, at: performance.now() };
}

/** The floor: poll MySQL directly from here at the feed's interval. */
/** CPU time (user + system) a process has used, from /proc (Linux). */
async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function directPoller(ctx: BenchContext, from: number, pollMs: number) {
  const seen = new Map<number, number>();
  let stop = false;
  const loop = (async () => {
    let cursor = from;
    while (!stop) {
      const rows = await readChanges(ctx.app.db, cursor, 500);
      const now = performance.now();
      for (const row of rows) {
        seen.set(row.version, now);
        cursor = row.version;
      }
      if (rows.length < 500) await sleep(pollMs);
    }
  })();
  return {
    seen,
    async close() {
      stop = true;
      await loop;
    },
  };
}

async function measurePropagation(ctx: BenchContext, streams: number) {
  const open = await openDeploymentStreams(ctx, streams);
  // Every stream is registered once one change reached all of them.
  const warm = await commitTopologyChange(ctx, 0);
  await until(`${streams} streams to start`, () => open.receipts.every((r) => r.has(warm.version)), 30_000);
  const poller = directPoller(ctx, warm.version, POLL_MS);
  const commits: { version: number; at: number }[] = [];
  const cpuBefore = await cpuMs(ctx.app.switchyard.pid);
  const started = performance.now();
  for (let i = 1; i <= CHANGES; i++) {
    commits.push(await commitTopologyChange(ctx, i));
    await sleep(GAP_MS * (0.5 + Math.random())); // spread over the poll phase
  }
  const changesPerSecond = CHANGES / ((performance.now() - started) / 1000);
  const last = commits.at(-1)!.version;
  await until("every stream to receive every change", () => open.receipts.every((r) => r.has(last)) && poller.seen.has(last), 60_000);
  const serveCpuMsPerChange = ((await cpuMs(ctx.app.switchyard.pid)) - cpuBefore) / CHANGES;
  await open.close();
  await poller.close();
  if (open.failures.length > 0) throw new Error(`${open.failures.length} streams failed: ${String(open.failures[0])}`);
  const samples = commits.flatMap((c) => open.receipts.map((r) => r.get(c.version)! - c.at));
  const floor = commits.map((c) => poller.seen.get(c.version)! - c.at);
  // Where the time goes with many streams: to the first stream's receipt, then the spread to the last.
  const first = commits.map((c) => Math.min(...open.receipts.map((r) => r.get(c.version)!)) - c.at);
  const spread = commits.map((c) => Math.max(...open.receipts.map((r) => r.get(c.version)!)) - Math.min(...open.receipts.map((r) => r.get(c.version)!)));
  return { samples, floor, first, spread, serveCpuMsPerChange, changesPerSecond };
}

const propagation: Section = async (ctx) => {
  console.log(`propagation: ${CHANGES} changes, 1 stream …`);
  const one = await measurePropagation(ctx, 1);
  console.log(`propagation: ${CHANGES} changes, ${STREAMS} streams …`);
  const many = await measurePropagation(ctx, STREAMS);
  const p99One = percentile(one.samples, 99);
  const p99Many = percentile(many.samples, 99);
  const floorP99 = percentile(one.floor, 99);
  return {
    propagation_p50_ms: round(percentile(one.samples, 50)),
    propagation_p99_ms: round(p99One),
    propagation_100_p50_ms: round(percentile(many.samples, 50)),
    propagation_100_p99_ms: round(p99Many),
    propagation_100_first_stream_p99_ms: round(percentile(many.first, 99)),
    propagation_100_spread_p99_ms: round(percentile(many.spread, 99)),
    serve_cpu_ms_per_change_1: round(one.serveCpuMsPerChange),
    serve_cpu_ms_per_change_100: round(many.serveCpuMsPerChange),
    direct_poll_p50_ms: round(percentile(one.floor, 50)),
    direct_poll_p99_ms: round(floorP99),
    propagation_p99_over_direct_poll: round(p99One / floorP99),
    propagation_100_p99_over_direct_poll: round(p99Many / percentile(many.floor, 99)),
    changes: CHANGES,
    changes_per_s: round(many.changesPerSecond),
  };
};

/** Com_select of the whole server over an idle interval, per second. */
async function selectsPerSecond(ctx: BenchContext): Promise<number> {
  const read = async () => Number((await sql<{ Value: string }>`show global status like 'Com_select'`.execute(ctx.app.db)).rows[0]!.Value);
  const before = await read();
  const started = performance.now();
  await sleep(IDLE_MS);
  const after = await read();
  return (after - before) / ((performance.now() - started) / 1000);
}

const feedQueries: Section = async (ctx) => {
  const figures: Record<string, number> = {};
  for (const streams of [1, STREAMS]) {
    const open = await openDeploymentStreams(ctx, streams);
    const warm = await commitTopologyChange(ctx, streams);
    await until(`${streams} streams to start`, () => open.receipts.every((r) => r.has(warm.version)), 30_000);
    await sleep(500); // let the catch-up reads of the new streams finish
    console.log(`feed queries: ${IDLE_MS} ms idle with ${streams} stream(s) …`);
    figures[`feed_queries_per_s_${streams}`] = round(await selectsPerSecond(ctx));
    await open.close();
  }
  figures.feed_queries_100_over_1 = round(figures[`feed_queries_per_s_${STREAMS}`]! / figures.feed_queries_per_s_1!);
  return figures;
};

const localPropagation: Section = async (ctx) => {
  console.log(`local propagation: ${LOCAL_PROMOTES} promotes through the API …`);
  const agent = ctx.app.client(ClusterService, { token: ctx.app.tokens.agents.local! }, "connect-binary");
  const controller = new AbortController();
  const samples: number[] = [];
  let seenThrough = 0;
  const from = BigInt(await currentChangeVersion(ctx.app.db));
  const stream = (async () => {
    try {
      for await (const message of agent.watchGatewayConfigs({ region: "local", fromVersion: from, agentId: "bench" }, { signal: controller.signal }) as AsyncIterable<WatchGatewayConfigsResponse>) {
        seenThrough = Number(message.version);
        if (message.change.case !== "upsert") continue;
        const created = message.change.value.updateTime!;
        samples.push(Date.now() - (Number(created.seconds) * 1000 + created.nanos / 1e6));
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  const client = ctx.app.client(DeployService);
  for (let i = 0; i < LOCAL_PROMOTES; i++) {
    await client.promote({ deploymentId: i % 2 === 0 ? ctx.a : ctx.b });
    await sleep(5 + Math.random() * 20);
  }
  const last = await ctx.app.db.selectFrom("changes").select((eb) => eb.fn.max("version").as("v")).where("kind", "=", "gateway_config").executeTakeFirstOrThrow();
  await until("the promotes' gateway configs", () => seenThrough >= Number(last.v), 30_000);
  controller.abort();
  await stream;
  return { propagation_local_p50_ms: round(percentile(samples, 50)), propagation_local_p99_ms: round(percentile(samples, 99)) };
};

const deployOverhead: Section = ({ app }) => measureDeployOverhead(app);

const SECTIONS: Section[] = [propagation, feedQueries, localPropagation, deployOverhead];

const app = await startApp({ env: { SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_FEED_POLL: `${POLL_MS}ms` } });
try {
  const fixture = await createProject(app);
  const a = (await deploy(app, fixture)).id;
  const b = (await deploy(app, fixture)).id;
  const ctx: BenchContext = { app, fixture, a, b };
  const figures: Record<string, number | string> = { feed_poll_ms: POLL_MS };
  for (const section of SECTIONS) Object.assign(figures, await section(ctx));
  report("agent", figures);
} finally {
  await app.stop();
}
