/*
 * npm run bench:scale — the ceiling of the commit-ordered change feed, and promote throughput
 * across many projects with one and two switchyard replicas, each against a baseline measured in
 * the same run on the real stack. Writes bench/results/scale.json.
 *
 *   feed             W concurrent writer transactions (W = 1 … 64), each for its own project:
 *                    one project-local update, then appendChanges' counter bump + insert (one
 *                    round trip), commit. feed_changes_per_s_max is the best W; the lock hold is
 *                    measured from that round trip's answer to the commit's answer (the
 *                    `sequences` row is held between, and for the insert's own time before).
 *   feed, sharded    the same writers with one counter per stream (16 streams, bench-only
 *                    tables): what the feed could sustain without the one global row.
 *   promote          32 Connect clients promoting across 100 projects (one replica; then two
 *                    replicas, round-robin, one endpoint URL behind an h2c balancer)
 *   baseline         the same 32 clients calling a Restate virtual object (100 keys) whose one
 *                    ctx.run runs a transaction of the same shape — lock the key's row, upsert
 *                    10 rows — without routing or the feed
 *   floor            the same clients promoting each project's live deployment again (unique
 *                    keys): refused under the project's lock, so it pays everything a promote
 *                    does but routing's writes — the ceiling no change to routing can pass
 *   cpu              for the baseline, the one-replica promote and the floor: CPU ms per call of each
 *                    process (restate-server, switchyard, mariadbd, this one) — on shared cores
 *                    throughput follows it, so it names where a promote's extra cost goes
 *   queues           during the one-replica promotes: how many sessions wait, on average, on the
 *                    feed counter and on a project's row (bench/lib/lockQueue.ts)
 */
import "../src/polyfill.js";
import { randomBytes } from "node:crypto";
import * as restate from "@restatedev/restate-sdk";
import * as clients from "@restatedev/restate-sdk-clients";
import { sql, type Kysely } from "kysely";
import { DeployService } from "../src/gen/ctrl/v1/deploy_pb.js";
import { createDb } from "../src/db/connect.js";
import { appendChanges } from "../src/db/changes.js";
import type { Database } from "../src/db/schema.js";
import { serveBenchServices } from "./lib/endpoint.js";
import { promoteThroughput, projectWithHostnames, refusedPromoteThroughput, type Pair } from "./lib/promoteLoad.js";
import { report } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";
import { cpuFigures, cpuPerOperation, cpuSnapshot, type CpuSnapshot } from "./lib/cpuAccount.js";
import { sampleLockQueues } from "./lib/lockQueue.js";
import { freePort, startEndpointBalancer, startSwitchyard } from "../test/harness/index.js";
import { replicaListeners, startApp } from "../test/support/app.js";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createClient, type Interceptor } from "@connectrpc/connect";

const FEED_MS = Number(process.env.BENCH_FEED_MS ?? 3000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 5000);
const WRITERS = [1, 4, 16, 64];
const STREAMS = 16;
const CLIENTS = 32;
const PROJECTS = 100;

interface FeedRun {
  writers: number;
  changesPerSecond: number;
  holds: number[];
}

/** Bench-only tables: a row per project (the project-local write) and the sharded feed. */
async function createBenchTables(db: Kysely<Database>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS bench_project_rows (id VARCHAR(64) PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS bench_stream_counters (stream INT PRIMARY KEY, value BIGINT NOT NULL) ENGINE=InnoDB`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS bench_stream_changes (stream INT NOT NULL, version BIGINT NOT NULL, resource_key VARCHAR(512) NOT NULL, payload MEDIUMTEXT, PRIMARY KEY (stream, version)) ENGINE=InnoDB`.execute(db);
  const streams = sql.join(Array.from({ length: STREAMS }, (_, s) => sql`(${s}, 0)`));
  await sql`INSERT IGNORE INTO bench_stream_counters (stream, value) VALUES ${streams}`.execute(db);
}

/** `writers` loops of one-change transactions for `FEED_MS`; `sharded` uses a counter per stream. */
async function feedRun(db: Kysely<Database>, writers: number, sharded: boolean): Promise<FeedRun> {
  const holds: number[] = [];
  let changes = 0;
  const deadline = performance.now() + FEED_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const projectId = `prj_bench_${w}`;
      const stream = w % STREAMS;
      for (let i = 0; performance.now() < deadline; i++) {
        let locked = 0;
        await db.transaction().execute(async (trx) => {
          // The project's own work comes first; the counter is bumped last (sequences.ts).
          await sql`INSERT INTO bench_project_rows (id, n) VALUES (${projectId}, ${i}) ON DUPLICATE KEY UPDATE n = VALUES(n)`.execute(trx);
          const change = { kind: "route", resourceKey: `${projectId}-${i}.example.com`, projectId, payload: { i } };
          // The bump and the insert go in one round trip, as appendChanges sends them.
          if (sharded) {
            await sql`UPDATE bench_stream_counters SET value = LAST_INSERT_ID(value + 1) WHERE stream = ${stream}; INSERT INTO bench_stream_changes (stream, version, resource_key, payload) VALUES (${stream}, LAST_INSERT_ID(), ${change.resourceKey}, ${JSON.stringify(change.payload)})`.execute(trx);
          } else {
            await appendChanges(trx, [change]);
          }
          locked = performance.now();
        });
        holds.push(performance.now() - locked);
        changes++;
      }
    }),
  );
  return { writers, changesPerSecond: round(changes / ((performance.now() - started) / 1000)), holds };
}

/** The baseline virtual object: per key, one ctx.run with a locked transaction of the swap's shape. */
async function baselineThroughput(db: Kysely<Database>, restateUrls: { adminUrl: string; ingressUrl: string }, keys: number, cpu: () => CpuSnapshot): Promise<{ perSecond: number; cpuPerCall: Record<string, number> }> {
  await sql`CREATE TABLE IF NOT EXISTS bench_key_lock (id VARCHAR(64) PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS bench_key_rows (id VARCHAR(64) NOT NULL, k INT NOT NULL, v BIGINT NOT NULL, PRIMARY KEY (id, k)) ENGINE=InnoDB`.execute(db);
  const keyNames = Array.from({ length: keys }, (_, k) => `key-${k}`);
  await sql`INSERT IGNORE INTO bench_key_lock (id, n) VALUES ${sql.join(keyNames.map((k) => sql`(${k}, 0)`))}`.execute(db);
  const object = restate.object({
    name: "BenchScaleBaseline",
    handlers: {
      txn: async (ctx: restate.ObjectContext, i: number) => {
        await ctx.run("transaction", () =>
          db.transaction().execute(async (trx) => {
            await sql`SELECT n FROM bench_key_lock WHERE id = ${ctx.key} FOR UPDATE`.execute(trx);
            const values = sql.join(Array.from({ length: 10 }, (_, k) => sql`(${ctx.key}, ${k}, ${i})`));
            await sql`INSERT INTO bench_key_rows (id, k, v) VALUES ${values} ON DUPLICATE KEY UPDATE v = VALUES(v)`.execute(trx);
          }),
        );
        return i;
      },
    },
  });
  const endpoint = await serveBenchServices(restateUrls.adminUrl, [object]);
  try {
    const ingress = clients.connect({ url: restateUrls.ingressUrl });
    let calls = 0;
    const deadline = performance.now() + THROUGHPUT_MS;
    const cpuBefore = cpu();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; performance.now() < deadline; i++) {
          await ingress.objectClient(object, keyNames[(c + i * CLIENTS) % keys]!).txn(i);
          calls++;
        }
      }),
    );
    const perSecond = round(calls / ((performance.now() - started) / 1000));
    return { perSecond, cpuPerCall: cpuPerOperation(cpuBefore, cpu(), calls) };
  } finally {
    endpoint.close();
  }
}

async function main() {
  const app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_LOG_LEVEL: "warn" } });
  const feedDb = createDb(app.stack.mariadb.url, { poolSize: Math.max(...WRITERS) });
  const stopLater: { stop(): Promise<void> }[] = [];
  try {
    await createBenchTables(feedDb);
    const runs: FeedRun[] = [];
    const shardedRuns: FeedRun[] = [];
    for (const writers of WRITERS) {
      console.log(`feed: ${writers} writer(s), one counter …`);
      runs.push(await feedRun(feedDb, writers, false));
      console.log(`feed: ${writers} writer(s), ${STREAMS} counters …`);
      shardedRuns.push(await feedRun(feedDb, writers, true));
    }
    const best = runs.reduce((a, b) => (b.changesPerSecond > a.changesPerSecond ? b : a));
    const bestSharded = shardedRuns.reduce((a, b) => (b.changesPerSecond > a.changesPerSecond ? b : a));
    const allHolds = runs.flatMap((r) => r.holds);

    console.log(`setting up ${PROJECTS} projects …`);
    const first = await projectWithHostnames(app, 2);
    const pairs: Pair[] = [first];
    for (let i = 1; i < PROJECTS; i++) pairs.push(await projectWithHostnames(app, 2, first.fixture));

    // Where each side spends the shared cores (the baseline's endpoint runs in this process).
    const cpu = () => cpuSnapshot({ restate: app.stack.restate.pid, switchyard: app.switchyard.pid, mariadb: app.stack.mariadb.pid });
    console.log("baseline: 32 clients, virtual object + transaction …");
    const { perSecond: baseline, cpuPerCall: baselineCpu } = await baselineThroughput(app.db, app.stack.restate, PROJECTS, cpu);
    console.log("promote: 32 clients, 100 projects, one replica …");
    const promoteCpuBefore = cpu();
    const { value: one, queues } = await sampleLockQueues(app.db, promoteThroughput([app.client(DeployService)], pairs, CLIENTS, THROUGHPUT_MS));
    const promoteCpu = cpuPerOperation(promoteCpuBefore, cpu(), one.succeeded + one.refused);

    console.log("floor: 32 clients promoting each project's live deployment again (refused in the lock) …");
    const live = await app.db.selectFrom("projects").select("live_deployment_id").where("id", "in", pairs.map((p) => p.fixture.projectId)).execute();
    const floorCpuBefore = cpu();
    const floor = await refusedPromoteThroughput(app.client(DeployService), live.map((p) => p.live_deployment_id!), CLIENTS, THROUGHPUT_MS);
    const floorCpu = cpuPerOperation(floorCpuBefore, cpu(), floor.calls);

    console.log("promote: 32 clients, 100 projects, two replicas behind one endpoint URL …");
    const secondEndpointPort = await freePort();
    const balancer = await startEndpointBalancer([Number(app.env.SWITCHYARD_ENDPOINT_PORT), secondEndpointPort]);
    stopLater.push(balancer);
    const second = await startSwitchyard(
      { ...app.env, ...(await replicaListeners(secondEndpointPort)), SWITCHYARD_ENDPOINT_URL: balancer.url },
      { name: "switchyard-2", readyTimeoutMs: 30_000 },
    );
    stopLater.push(second);
    const auth: Interceptor = (next) => (req) => (req.header.set("authorization", `Bearer ${app.tokens.acme}`), next(req));
    const secondApi = createClient(DeployService, createConnectTransport({ baseUrl: second.url, httpVersion: "1.1", interceptors: [auth] }));
    const two = await promoteThroughput([app.client(DeployService), secondApi], pairs, CLIENTS, THROUGHPUT_MS);

    report("scale", {
      feed_changes_per_s_max: best.changesPerSecond,
      feed_writers_at_max: best.writers,
      ...Object.fromEntries(runs.map((r) => [`feed_changes_per_s_${r.writers}_writers`, r.changesPerSecond])),
      counter_lock_hold_p50_ms: round(percentile(allHolds, 50)),
      counter_lock_hold_p99_ms: round(percentile(allHolds, 99)),
      counter_lock_hold_at_max_p50_ms: round(percentile(best.holds, 50)),
      feed_ceiling_from_hold_per_s: round(1000 / percentile(best.holds, 50)),
      sharded_feed_changes_per_s_max: bestSharded.changesPerSecond,
      sharded_feed_writers_at_max: bestSharded.writers,
      sharded_streams: STREAMS,
      promote_throughput_100_projects: one.perSecond,
      // Refused: lost a race to a promote of the same target (FailedPrecondition) — still a locked transaction.
      promote_succeeded: one.succeeded,
      promote_refused: one.refused,
      baseline_throughput_32: baseline,
      throughput_ratio: round(one.perSecond / baseline),
      // CPU ms per call by process (utime + stime): the baseline's endpoint is the bench process.
      ...cpuFigures("baseline_cpu_ms_per_call", baselineCpu),
      ...cpuFigures("promote_cpu_ms_per_call", promoteCpu),
      cpu_ratio: round(baselineCpu.total! / promoteCpu.total!),
      // The floor: a promote that the project's lock refuses — the front door, a keyed Restate
      // invocation, the step up to the lock — without routing's writes. What routing can reach.
      floor_throughput_refused_promote: floor.perSecond,
      floor_ratio: round(floor.perSecond / baseline),
      ...cpuFigures("floor_cpu_ms_per_call", floorCpu),
      // Sessions queued, on average, on the feed counter and on a project's row during the promotes.
      promote_queue_on_counter: queues.counter,
      promote_queue_on_project_row: queues.projectRow,
      // Little's law: the average time a promote waits for the counter (queue length / rate).
      promote_counter_wait_ms: round((queues.counter / one.perSecond) * 1000),
      promote_throughput_100_projects_2_replicas: two.perSecond,
      throughput_ratio_2_replicas: round(two.perSecond / baseline),
      clients: CLIENTS,
      run_id: randomBytes(4).toString("hex"),
    });
  } finally {
    for (const s of stopLater.reverse()) await s.stop().catch(() => undefined);
    await feedDb.destroy();
    await app.stop();
  }
}

await main();
