// The invariants of docs/invariants.md that deployments and routing must keep, each in a test
// named after it, against the real MariaDB, restate-server and switchyard process.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { createDb } from "../../src/db/connect.js";
import { readChanges } from "../../src/db/changes.js";
import { isLocalHostname } from "../../src/domain/localHostnames.js";
import { loadDeploymentTarget, upsertGatewayConfigs } from "../../src/routing/gatewayConfig.js";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { StickyLevel } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { assertGatewayBeforeRoute, snapshot } from "../support/routingState.js";
import { until } from "../support/until.js";
import { invocationsOf } from "../support/restateQuery.js";

const APEX = "switchyard.test-apex.dev";
const GRACE_MS = 1500;

async function desiredStatus(app: App, deploymentId: string): Promise<string> {
  const row = await app.db.selectFrom("deployment_topology").select("desired_status").where("deployment_id", "=", deploymentId).executeTakeFirstOrThrow();
  return row.desired_status;
}

/** A project with two READY production deployments; v2 is live. */
async function twoDeployments(app: App) {
  const fixture = await createProject(app);
  const v1 = await deploy(app, fixture);
  const v2 = await deploy(app, fixture);
  assert.equal(v1.status, DeploymentStatus.READY, v1.errorMessage);
  assert.equal(v2.status, DeploymentStatus.READY, v2.errorMessage);
  return { fixture, v1: v1.id, v2: v2.id };
}

describe("invariants of deployments and routing", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: `${GRACE_MS}ms` } });
  });
  after(async () => {
    await app?.stop();
  });

  it("gateway-before-route: no snapshot ever shows a route without its gateway config", async () => {
    const { fixture, v1, v2 } = await twoDeployments(app);
    const client = app.client(DeployService);
    let stop = false;
    const violations: string[] = [];
    let snapshots = 0;
    const reader = (async () => {
      const readerDb = createDb(app.stack.mariadb.url, { poolSize: 1 });
      try {
        while (!stop) {
          // One consistent read view: routes and gateway configs as one transaction saw them.
          await readerDb.transaction().execute(async (trx) => {
            await sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`.execute(trx).catch(() => undefined);
            const state = await snapshot(trx as never, fixture.projectId);
            violations.push(...assertGatewayBeforeRoute(state));
          });
          snapshots++;
        }
      } finally {
        await readerDb.destroy();
      }
    })();
    for (let i = 0; i < 10; i++) {
      await client.rollback({ deploymentId: v1 });
      await client.promote({ deploymentId: v2 });
    }
    stop = true;
    await reader;
    assert.ok(snapshots > 5, `reader took ${snapshots} snapshots`);
    assert.deepEqual(violations, []);
  });

  it("atomic-swap: a promote that fails mid-transaction leaves the previous state fully intact, then completes", async () => {
    const { fixture, v1, v2 } = await twoDeployments(app);
    const before = await snapshot(app.db, fixture.projectId);
    assert.equal(before.liveDeploymentId, v2);
    // A real failure inside the swap transaction: the outbox insert, its last statement, fails.
    await sql.raw(`
      CREATE TRIGGER fail_promote BEFORE INSERT ON events FOR EACH ROW
      BEGIN
        IF NEW.type = 'DeploymentRolledBack' THEN
          SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure';
        END IF;
      END`).execute(app.db);
    let dropped = false;
    try {
      const pending = app.client(DeployService).rollback({ deploymentId: v1 });
      // Restate retries the failing step; while it fails, nothing of the swap is visible.
      const deadline = Date.now() + 1500;
      while (Date.now() < deadline) {
        const during = await snapshot(app.db, fixture.projectId);
        assert.equal(during.liveDeploymentId, v2);
        assert.equal(during.isRolledBack, false);
        assert.deepEqual(during.routes, before.routes);
        assert.deepEqual(during.gatewayConfigs, before.gatewayConfigs);
        assert.deepEqual(during.events, before.events);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await sql`DROP TRIGGER fail_promote`.execute(app.db);
      dropped = true;
      const result = await pending;
      assert.equal(result.state?.liveDeploymentId, v1);
      const afterState = await snapshot(app.db, fixture.projectId);
      assert.equal(afterState.liveDeploymentId, v1);
      assert.equal(afterState.isRolledBack, true);
      assert.deepEqual(assertGatewayBeforeRoute(afterState), []);
      assert.equal(afterState.events.filter((e) => e.type === "DeploymentRolledBack").length, 1, "exactly one event");
    } finally {
      if (!dropped) await sql`DROP TRIGGER IF EXISTS fail_promote`.execute(app.db);
    }
  });

  it("one-lock-per-project: a locked project does not delay another, and a pending deploy does not block a promote", async () => {
    const a = await twoDeployments(app);
    const b = await twoDeployments(app);
    const client = app.client(DeployService);
    // Hold project A's row lock from outside: A's promote must wait for it, B's must not.
    const lockDb = createDb(app.stack.mariadb.url, { poolSize: 1 });
    let releaseLock!: () => void;
    const released = new Promise<void>((resolve) => (releaseLock = resolve));
    let lockHeld!: () => void;
    const held = new Promise<void>((resolve) => (lockHeld = resolve));
    const locked = lockDb.transaction().execute(async (trx) => {
      await trx.selectFrom("projects").select("id").where("id", "=", a.fixture.projectId).forUpdate().execute();
      lockHeld();
      await released;
    });
    try {
      await Promise.race([held, locked]);
      let aDone = false;
      const promoteA = client.rollback({ deploymentId: a.v1 }).then((r) => ((aDone = true), r));
      const started = Date.now();
      const promoteB = await client.rollback({ deploymentId: b.v1 });
      assert.equal(promoteB.state?.liveDeploymentId, b.v1);
      assert.ok(Date.now() - started < 5000, "project B did not wait for project A");
      assert.equal(aDone, false, "project A waits for its lock");
      releaseLock();
      await locked;
      assert.equal((await promoteA).state?.liveDeploymentId, a.v1);
    } finally {
      releaseLock();
      await locked.catch(() => undefined);
      await lockDb.destroy();
    }

    // A deploy waiting for its instances (a slow build or rollout) holds no project lock.
    const waiting = await deploy(app, a.fixture, { report: "none", wait: false });
    await until("deployment to wait for instances", async () => {
      const row = await app.db.selectFrom("deployments").select("awakeable_id").where("id", "=", waiting.id).executeTakeFirst();
      return row?.awakeable_id ? true : undefined;
    });
    const promoted = await client.promote({ deploymentId: a.v2 });
    assert.equal(promoted.state?.liveDeploymentId, a.v2);
    await client.cancelDeployment({ deploymentId: waiting.id }).catch(() => undefined);
  });

  it("gap-free-versions: concurrent writers, and a reader resuming from random versions sees every change once, in order", async () => {
    const projects = await Promise.all([twoDeployments(app), twoDeployments(app), twoDeployments(app)]);
    const client = app.client(DeployService);
    const start = Number((await app.db.selectFrom("sequences").select("value").where("name", "=", "changes").executeTakeFirstOrThrow()).value);
    let stop = false;
    const problems: string[] = [];
    let resumes = 0;
    const reader = (async () => {
      let cursor = start;
      while (!stop) {
        const batch = await readChanges(app.db, cursor, 50);
        for (const change of batch) {
          if (change.version !== cursor + 1) problems.push(`after ${cursor} came ${change.version}`);
          cursor = change.version;
        }
        // Resume from a random earlier version: exactly the later changes, in order, no gap.
        const from = start + Math.floor(Math.random() * Math.max(1, cursor - start));
        const replay = await readChanges(app.db, from, 1000);
        replay.forEach((c, i) => {
          if (c.version !== from + 1 + i) problems.push(`resume from ${from}: position ${i} is ${c.version}`);
        });
        resumes++;
      }
    })();
    await Promise.all(
      projects.map(async ({ v1, v2 }) => {
        for (let i = 0; i < 8; i++) {
          await client.rollback({ deploymentId: v1 });
          await client.promote({ deploymentId: v2 });
        }
      }),
    );
    stop = true;
    await reader;
    assert.deepEqual(problems, []);
    assert.ok(resumes > 3, `reader resumed ${resumes} times`);
    const all = await readChanges(app.db, start, 100_000);
    assert.ok(all.length >= projects.length * 16 * 2, `${all.length} changes written`);
    all.forEach((c, i) => assert.equal(c.version, start + 1 + i));
  });

  it("local-domains-filtered: local hostnames are never routed and get no gateway config", async () => {
    const { fixture, v2 } = await twoDeployments(app);
    // No project owns a developer-local name (nobody can verify it): AssignDomains refuses them.
    for (const hostname of ["app.local", "api.test", "localhost", "web.localhost"]) {
      await assert.rejects(
        app.client(RoutingService).assignDomains({ projectId: fixture.projectId, deploymentId: v2, domains: [{ hostname, sticky: StickyLevel.BRANCH }] }),
        (error: unknown) => ConnectError.from(error).code === Code.FailedPrecondition,
        hostname,
      );
    }
    await assert.rejects(app.client(RoutingService).assignDomains({ projectId: fixture.projectId, deploymentId: v2, domains: [{ hostname: "127.0.0.1", sticky: StickyLevel.BRANCH }] }), /IP address/);
    // The gateway-config builder itself skips local names, and keeps those under the apex.
    const written = await app.db.transaction().execute(async (trx) => {
      const target = await loadDeploymentTarget(trx, v2);
      return upsertGatewayConfigs(trx, target, ["app.local", "api.test", "localhost", "web.localhost", "127.0.0.1", `${fixture.projectSlug}-${fixture.workspaceSlug}.${APEX}`], APEX);
    });
    assert.deepEqual(written.hostnames, [`${fixture.projectSlug}-${fixture.workspaceSlug}.${APEX}`]);
    const state = await snapshot(app.db, fixture.projectId);
    for (const hostname of ["app.local", "api.test", "localhost", "web.localhost", "127.0.0.1"]) {
      assert.equal(state.routes.has(hostname), false, `${hostname} is not routed`);
      assert.equal(state.gatewayConfigs.has(hostname), false, `${hostname} has no gateway config`);
      assert.ok(isLocalHostname(hostname, APEX));
    }
    assert.deepEqual(assertGatewayBeforeRoute(state, (h) => isLocalHostname(h, APEX)), []);
  });

  it("live-never-stopped: the previous live goes to standby after the grace, cancelled when it is live again", async () => {
    const { fixture, v1, v2 } = await twoDeployments(app);
    const client = app.client(DeployService);
    // v2 became live when it was ready: v1's standby is scheduled; the live v2 runs.
    assert.equal(await desiredStatus(app, v2), "running");
    await until("v1 to go to standby after the grace period", async () => (await desiredStatus(app, v1)) === "standby");
    assert.equal(await desiredStatus(app, v2), "running", "the live deployment is never stopped");

    // Roll back to the standby v1: it runs again; v2's standby is scheduled.
    await client.rollback({ deploymentId: v1 });
    assert.equal(await desiredStatus(app, v1), "running");
    // Promote v2 again before its grace ends: v2's pending standby is cancelled, v1's scheduled.
    await client.promote({ deploymentId: v2 });
    await until("v1 to go to standby again", async () => (await desiredStatus(app, v1)) === "standby");
    // v2's cancelled standby was due before v1's: had it run, it would have happened by now.
    assert.equal(await desiredStatus(app, v2), "running", "the cancelled standby never ran");
    const state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v2);
    const standbyEvents = state.events.filter((e) => e.type === "DeploymentStandby").map((e) => e.subject);
    assert.deepEqual(standbyEvents, [v1, v1]);
  });

  it("live-never-stopped, promoted back and forth: one standby call per deployment, due the grace after the swap that last made it previous", async () => {
    const { fixture, v1, v2 } = await twoDeployments(app);
    const client = app.client(DeployService);
    // Six swaps while v1's first standby call (from v2 going live) is still waiting.
    for (const target of [v1, v2, v1, v2, v1, v2]) await client.promote({ deploymentId: target });
    const calls = await invocationsOf(app.stack.restate.adminUrl, "Project", "standby", fixture.projectId);
    // One delayed call per swap before; now the call in flight is kept when re-armed for later
    // (slack for a call that fired, disarmed, during slow swaps and was sent anew).
    assert.ok(calls.length <= 4, `${calls.length} standby calls for 7 swaps: ${calls.map((c) => c.status).join(", ")}`);
    await until("v1 to go to standby", async () => (await desiredStatus(app, v1)) === "standby");
    const events = await app.db.selectFrom("events").select(["id", "type", "subject", "created_at"]).where("workspace_id", "=", fixture.workspaceId).orderBy("id").execute();
    const lastSwap = events.filter((e) => e.type === "DeploymentPromoted").at(-1)!;
    const standby = events.filter((e) => e.type === "DeploymentStandby" && e.id > lastSwap.id);
    assert.deepEqual(standby.map((e) => e.subject), [v1], "only the previous live went to standby, once");
    // Its first call was due a grace after v2's first go-live, long before; it waited for the last swap's.
    assert.ok(standby[0]!.created_at.getTime() >= lastSwap.created_at.getTime() + GRACE_MS - 5, `standby at ${standby[0]!.created_at.toISOString()}, last swap at ${lastSwap.created_at.toISOString()}`);
    assert.equal(await desiredStatus(app, v2), "running", "the live deployment is never stopped");
  });
});
