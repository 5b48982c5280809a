// Beyond one machine: two `switchyard serve` replicas (one Restate endpoint URL, an h2c balancer
// in front of both) on a three-node Restate cluster (replication 2, one ingress/admin URL in front
// of the nodes). Requests go round-robin to the replicas, as a load balancer in front of the API
// would send them; a client retries Unavailable with the same idempotency key, as the API asks.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { ClusterService } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService, DeploymentStatus, type PromoteResponse } from "../../src/gen/ctrl/v1/deploy_pb.js";
import type { RestateCluster } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, reportInstances, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

/** A commit through one replica reaches a watch stream on another within this (the feed poll is 25 ms). */
const PROPAGATION_MS = 1000;

let app: App;
const cluster = () => app.stack.restate as RestateCluster;

/** Retries what failed as Unavailable (a replica or a Restate node gone), bounded, same arguments. */
async function retryingUnavailable<T>(what: string, call: (attempt: number) => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unavailable || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A project with two READY production deployments, the first deploy through one replica, the second through the other. */
async function projectOnBothReplicas(index: number): Promise<{ fixture: ProjectFixture; a: string; b: string }> {
  const fixture = await createProject(app.viaReplica(index % 2));
  const a = (await deploy(app.viaReplica(index % 2), fixture)).id;
  const b = (await deploy(app.viaReplica((index + 1) % 2), fixture)).id; // live
  return { fixture, a, b };
}

async function liveOf(projectId: string): Promise<string | null> {
  const row = await app.db.selectFrom("projects").select("live_deployment_id").where("id", "=", projectId).executeTakeFirstOrThrow();
  return row.live_deployment_id;
}

async function promotedEvents(projectId: string): Promise<{ subject: string }[]> {
  return app.db
    .selectFrom("events")
    .select("subject")
    .where("type", "=", "DeploymentPromoted")
    .where(sql<string>`json_unquote(json_extract(payload, '$.projectId'))`, "=", projectId)
    .orderBy("id")
    .execute();
}

/** Versions of the feed and ids of the outbox are dense: no version lost, none doubled. */
async function assertDense(table: "changes" | "events", column: "version" | "id") {
  const row = await sql<{ n: number | string; lo: number | string | null; hi: number | string | null }>`select count(*) as n, min(${sql.ref(column)}) as lo, max(${sql.ref(column)}) as hi from ${sql.table(table)}`.execute(app.db);
  const { n, lo, hi } = row.rows[0]!;
  assert.equal(Number(n), Number(hi) - Number(lo) + 1, `${table}: ${n} rows between ${lo} and ${hi}`);
}

describe("two switchyard replicas on a three-node Restate cluster", () => {
  before(async () => {
    app = await startApp({
      restate: { nodes: 3, replication: 2, partitions: 4, readyTimeoutMs: 60_000 },
      replicas: 2,
      env: { SWITCHYARD_STANDBY_GRACE: "1h" },
    });
  });
  after(async () => {
    await app?.stop();
  });

  it("a watch stream on replica A sees a change committed through replica B", async () => {
    const b = app.replicas[1]!;
    const fixture = await createProject(app.viaReplica(1));
    const first = await deploy(app.viaReplica(1), fixture);
    // Every invocation now runs on B: A is drained from the endpoint balancer, so the commit
    // happens in B's process and reaches A only through A's feed tailer reading MySQL.
    await app.endpointBalancer!.setUpstreams([Number(b.env.SWITCHYARD_ENDPOINT_PORT)]);
    try {
      const watch = app.viaReplica(0).client(ClusterService, { token: app.tokens.agents.local! });
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 30_000);
      const received = new Map<string, number>();
      let bootstrapped = false;
      const reading = (async () => {
        try {
          for await (const m of watch.watchGatewayConfigs({ region: "local", fromVersion: 0n, agentId: "gw-a" }, { signal: controller.signal })) {
            if (m.change.case === "bootstrapComplete") bootstrapped = true;
            if (bootstrapped && m.change.case === "upsert" && m.change.value.projectId === fixture.projectId) received.set(m.change.value.deploymentId, performance.now());
          }
        } catch (error) {
          if (!controller.signal.aborted) throw error;
        }
      })();
      try {
        await until("replica A's stream bootstrapped", () => bootstrapped);
        const second = (await deploy(app.viaReplica(1), fixture, { wait: false, report: "none" })).id;
        await reportInstances(app.viaReplica(1), "acme", second);
        await waitForStatus(app.viaReplica(1), "acme", second);
        const committed = performance.now();
        await until(`A's stream has ${second}`, () => received.has(second), PROPAGATION_MS);
        assert.ok(received.get(second)! - committed < PROPAGATION_MS);
        assert.ok(!received.has(first.id), "only changes after the bootstrap are streamed as changes");
      } finally {
        clearTimeout(timer);
        controller.abort();
        await reading;
      }
    } finally {
      await app.endpointBalancer!.setUpstreams(app.replicas.map((r) => Number(r.env.SWITCHYARD_ENDPOINT_PORT)));
    }
  });

  it("SIGKILL of one Restate node mid-promote: every promote completes exactly once, one live deployment, no lost or doubled event", async () => {
    const projects: Awaited<ReturnType<typeof projectOnBothReplicas>>[] = [];
    for (let i = 0; i < 6; i++) projects.push(await projectOnBothReplicas(i));
    for (const p of projects) assert.equal(await liveOf(p.fixture.projectId), p.b);
    const victim = cluster().node(1);

    // Mid-promote, for certain: the test holds the projects' rows, so every promote's swap step
    // waits on its row lock inside a running invocation; the node dies while they wait, and the
    // swaps commit only after that (a promote alone is over in milliseconds, too fast to catch).
    const projectIds = projects.map((p) => p.fixture.projectId);
    let promotes: Promise<PromoteResponse>[] = [];
    await app.db.transaction().execute(async (trx) => {
      await trx.selectFrom("projects").select("id").where("id", "in", projectIds).forUpdate().execute();
      // Promote every project back to its first deployment, round-robin over the replicas.
      promotes = projects.map((p, i) => {
        const key = randomBytes(8).toString("hex");
        return retryingUnavailable(`promote ${p.a}`, (attempt) => app.viaReplica((i + attempt) % 2).client(DeployService).promote({ deploymentId: p.a, idempotencyKey: key }));
      });
      const running = async () => (await cluster().inFlight()).filter((inv) => inv.target.startsWith("Project/") && inv.status === "running").length;
      await until("every promote running, waiting on its project's row", async () => (await running()) === projects.length, 20_000, 20);
      await victim.kill();
    });
    try {
      const results = await Promise.all(promotes);
      results.forEach((r, i) => assert.equal(r.state?.liveDeploymentId, projects[i]!.a, "the promote answered with its outcome"));
      for (const p of projects) {
        assert.equal(await liveOf(p.fixture.projectId), p.a, `${p.fixture.projectId} is live on its promoted deployment`);
        const events = await promotedEvents(p.fixture.projectId);
        // Each deploy's activation, then the one promote: each exactly once.
        assert.deepEqual(events.map((e) => e.subject), [p.a, p.b, p.a], `${p.fixture.projectId}: DeploymentPromoted events`);
      }
      await assertDense("changes", "version");
      await assertDense("events", "id");
      await app.stack.restate.waitUntilQuiet(60_000);
    } finally {
      await victim.restart();
    }
  });

  it("SIGKILL of one switchyard replica: the other serves every request and every workflow resumes", async () => {
    const a = app.replicas[0]!;
    const viaB = app.viaReplica(1);
    const fixture = await createProject(viaB);
    const first = (await deploy(viaB, fixture)).id;
    // Workflows in flight: deploys waiting for their instances, started round-robin.
    const pending: string[] = [];
    for (let i = 0; i < 4; i++) pending.push((await deploy(app.viaReplica(i % 2), fixture, { wait: false, report: "none" })).id);

    await a.kill();

    // The survivor answers every request, and the deploys continue where they were.
    for (const id of pending) await reportInstances(viaB, "acme", id);
    for (const id of pending) assert.equal((await waitForStatus(viaB, "acme", id, 60_000)).status, DeploymentStatus.READY, id);
    const key = randomBytes(8).toString("hex");
    const promoted = await retryingUnavailable("promote after the kill", () => viaB.client(DeployService).promote({ deploymentId: first, idempotencyKey: key }));
    assert.equal(promoted.state?.liveDeploymentId, first);
    assert.equal(await liveOf(fixture.projectId), first);
    const listed = await viaB.client(DeployService).listDeployments({ projectId: fixture.projectId });
    assert.equal(listed.deployments.length, 5);
    await app.stack.restate.waitUntilQuiet(60_000);
    await assertDense("changes", "version");
    await assertDense("events", "id");
  });
});
