// Durability: SIGKILL of the switchyard process right after each step of a deploy and of a
// promote committed (before Restate journaled it), SIGKILL of restate-server mid-promote, and a
// MariaDB restart mid-deploy. Each time the workflow completes exactly once.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { createDb } from "../../src/db/connect.js";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startSwitchyard, type Switchyard } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, reportInstances, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { assertGatewayBeforeRoute, snapshot } from "../support/routingState.js";
import { until } from "../support/until.js";

const DEPLOY_STEPS = [
  "load deployment",
  "resolve image",
  "phase building: skipped (pre-built image)",
  "phase deploying: start",
  "write topology",
  "await instances: publish awakeable",
  "scrape openapi spec",
  "phase deploying: end",
  "phase network: start",
  "assign domains",
  "phase network: end",
  "phase finalizing: start",
  "check api changes (activate)",
  "mark ready and swap live (activate)",
  "phase finalizing: end",
];

/** Counts that must be exactly one per deployment whatever crashed. */
async function assertExactlyOnce(app: App, fixture: ProjectFixture, deploymentId: string) {
  const events = await app.db.selectFrom("events").select(["type"]).where("subject", "=", deploymentId).execute();
  const count = (type: string) => events.filter((e) => e.type === type).length;
  assert.equal(count("DeploymentReady"), 1, "one DeploymentReady");
  assert.equal(count("DomainsAssigned"), 1, "one DomainsAssigned");
  const steps = await app.db.selectFrom("deployment_steps").select(["phase", "status"]).where("deployment_id", "=", deploymentId).execute();
  assert.deepEqual(steps.map((s) => s.phase).sort(), ["building", "deploying", "finalizing", "network"]);
  const topologyChanges = await app.db
    .selectFrom("changes")
    .select("version")
    .where("kind", "=", "deployment_topology")
    .where("resource_key", "=", `${deploymentId}/local`)
    .execute();
  assert.equal(topologyChanges.length, 1, "topology published once");
  const state = await snapshot(app.db, fixture.projectId);
  assert.deepEqual(assertGatewayBeforeRoute(state), []);
  const promoted = state.events.filter((e) => e.type === "DeploymentPromoted" && e.subject === deploymentId);
  assert.equal(promoted.length, 1, "one DeploymentPromoted");
}

describe("faults", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
  });
  after(async () => {
    await app?.stop();
  });

  /**
   * Replaces app.switchyard with one (same stack) that kills itself after `step`. The fault is
   * armed for every invocation the new process serves, so whatever earlier work still runs must
   * end first: GetDeployment says READY once the swap committed, while the workflow still has
   * "phase finalizing: end" to run — retried after the previous kill with Restate's backoff, it
   * would reach the next switchyard (maybe before its API listens) and hit a fault meant for
   * the deployment the test is about to create.
   */
  async function crashingSwitchyard(stepName: string): Promise<Switchyard> {
    await app.stack.restate.waitUntilQuiet();
    await app.switchyard.stop();
    app.switchyard = await startSwitchyard(app.env, { killAfterStep: stepName });
    return app.switchyard;
  }

  /** The fault fired in `targets` (service/key/handler prefixes), not in other work. */
  function assertFaultHit(crashing: Switchyard, ...targets: string[]) {
    const hit = crashing.faultHit();
    assert.ok(hit && targets.some((t) => hit.target.startsWith(t)), `the fault hit ${hit?.target ?? "nothing"}, expected ${targets.join(" or ")}`);
  }

  it("a deploy survives SIGKILL of switchyard after each of its steps, completing exactly once", async () => {
    for (const stepName of DEPLOY_STEPS) {
      const crashing = await crashingSwitchyard(stepName);
      try {
        const fixture = await createProject(app);
        // The process may die while CreateDeployment is still answering: the pipeline retries
        // with the same idempotency key and gets the same deployment.
        const key = `fault-${randomBytes(4).toString("hex")}`;
        const create = () => deploy(app, fixture, { report: "none", wait: false, idempotencyKey: key });
        const first = await create().catch(() => undefined);
        if (first) await reportInstances(app, "acme", first.id).catch(() => undefined);
        await until(`switchyard to die after "${stepName}"`, () => !crashing.process.running);
        await crashing.restart();
        const created = await create();
        if (first) assert.equal(created.id, first.id, "the retry returns the same deployment");
        assertFaultHit(crashing, `Deployment/${created.id}/`, `Project/${fixture.projectId}/`);
        await reportInstances(app, "acme", created.id);
        const done = await waitForStatus(app, "acme", created.id);
        assert.equal(done.status, DeploymentStatus.READY, `${stepName}: ${done.errorMessage}`);
        assert.equal(done.isLive, true, stepName);
        await assertExactlyOnce(app, fixture, created.id);
      } catch (error) {
        throw new Error(`after step "${stepName}": ${(error as Error).message}\n${crashing.logs(20)}`);
      }
    }
  });

  // Promote and Rollback each swap in one invocation of Project.promote / Project.rollback.
  for (const mode of ["rollback", "promote"] as const) {
    it(`a ${mode} survives SIGKILL of switchyard after its swap committed, and its retry gets the first answer`, async () => {
      const fixture = await createProject(app);
      const v1 = await deploy(app, fixture);
      const v2 = await deploy(app, fixture);
      const eventType = mode === "rollback" ? "DeploymentRolledBack" : "DeploymentPromoted";
      const eventsOfV1 = async () => (await snapshot(app.db, fixture.projectId)).events.filter((e) => e.type === eventType && e.subject === v1.id).length;
      const before = await eventsOfV1();
      const crashing = await crashingSwitchyard(`swap live (${mode})`);
      const client = app.client(DeployService);
      const key = `${mode}-${randomBytes(4).toString("hex")}`;
      const change = () => (mode === "rollback" ? client.rollback({ deploymentId: v1.id, idempotencyKey: key }) : client.promote({ deploymentId: v1.id, idempotencyKey: key }));
      await change().catch(() => undefined);
      await until("switchyard to die after the swap", () => !crashing.process.running);
      await crashing.restart();
      assertFaultHit(crashing, `Project/${fixture.projectId}/${mode}`);
      const retried = await change();
      assert.equal(retried.state?.liveDeploymentId, v1.id);
      assert.equal(retried.state?.previousLiveDeploymentId, v2.id);
      const state = await snapshot(app.db, fixture.projectId);
      assert.equal(state.liveDeploymentId, v1.id);
      assert.equal(state.isRolledBack, mode === "rollback");
      assert.equal(await eventsOfV1(), before + 1, `one ${eventType} event`);
      assert.deepEqual(assertGatewayBeforeRoute(state), []);
    });
  }

  it("a promote survives SIGKILL of restate-server in the middle of its transaction", async () => {
    const fixture = await createProject(app);
    const v1 = await deploy(app, fixture);
    const v2 = await deploy(app, fixture);
    const client = app.client(DeployService);
    const key = `rollback-${randomBytes(4).toString("hex")}`;
    // Hold the project row so the swap blocks inside its transaction, then kill restate-server.
    const lockDb = createDb(app.stack.mariadb.url, { poolSize: 1 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let lockHeld!: () => void;
    const held = new Promise<void>((resolve) => (lockHeld = resolve));
    const lock = lockDb.transaction().execute(async (trx) => {
      await trx.selectFrom("projects").select("id").where("id", "=", fixture.projectId).forUpdate().execute();
      lockHeld();
      await released;
    });
    try {
      // The row is ours before the rollback starts: otherwise its swap could take it first and finish.
      await Promise.race([held, lock]);
      const first = client.rollback({ deploymentId: v1.id, idempotencyKey: key }).catch((error: unknown) => error);
      await until("the swap to wait for the project lock", async () => {
        // The swap's locking read shows in the process list while it waits for our lock.
        const waiting = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%from \`projects\`%for update%'`.execute(app.db);
        return Number(waiting.rows[0]!.n) > 0;
      });
      await app.stack.restate.kill();
      release();
      await lock;
      await app.stack.restate.restart();
      await first;
      let answer: Awaited<ReturnType<typeof client.rollback>> | undefined;
      await until("the rollback to be answered after the restart", async () => {
        answer = await client.rollback({ deploymentId: v1.id, idempotencyKey: key }).catch(() => undefined);
        return answer !== undefined;
      });
      assert.equal(answer?.state?.previousLiveDeploymentId, v2.id, "the retry returns the first result");
    } finally {
      release();
      await lock.catch(() => undefined);
      await lockDb.destroy();
    }
    const state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v1.id);
    assert.equal(state.events.filter((e) => e.type === "DeploymentRolledBack").length, 1, "one event");
    assert.deepEqual(assertGatewayBeforeRoute(state), []);
  });

  it("a deploy completes when MariaDB restarts in the middle of it", async () => {
    const fixture = await createProject(app);
    const created = await deploy(app, fixture, { report: "none", wait: false });
    await app.stack.mariadb.kill();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await app.stack.mariadb.restart();
    // The API's pool reconnects; the workflow's failed steps are retried by Restate.
    await until("the instance report to be accepted", async () => {
      try {
        await reportInstances(app, "acme", created.id);
        return true;
      } catch {
        return false;
      }
    });
    const done = await waitForStatus(app, "acme", created.id, 60_000);
    assert.equal(done.status, DeploymentStatus.READY, done.errorMessage);
    await assertExactlyOnce(app, fixture, created.id);
  });
});
