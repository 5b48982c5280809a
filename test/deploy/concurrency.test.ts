import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { readChanges } from "../../src/db/changes.js";
import { createDb } from "../../src/db/connect.js";
import { lockProject } from "../../src/routing/projectLock.js";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { assertGatewayBeforeRoute, hostnamesAt, snapshot } from "../support/routingState.js";

describe("50 concurrent promote/rollback calls on one project", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
  });
  after(async () => {
    await app?.stop();
  });

  it("end consistent: one live deployment, every live route on it, versions increasing, events exact", async () => {
    const fixture = await createProject(app);
    const deployments = [];
    for (let i = 0; i < 3; i++) deployments.push(await deploy(app, fixture, { gitSha: `${i}`.repeat(7) + "abcdef" }));
    for (const d of deployments) assert.equal(d.status, DeploymentStatus.READY, d.errorMessage);
    const ids = deployments.map((d) => d.id);
    const before = await snapshot(app.db, fixture.projectId);
    const startVersion = Number((await app.db.selectFrom("sequences").select("value").where("name", "=", "changes").executeTakeFirstOrThrow()).value);

    const client = app.client(DeployService);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => {
        const target = ids[i % ids.length]!;
        return i % 2 === 0 ? client.promote({ deploymentId: target }) : client.rollback({ deploymentId: target });
      }),
    );
    const succeeded = outcomes.filter((o) => o.status === "fulfilled").length;
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        // Losing a race is a precise precondition failure, never an internal error.
        assert.equal(ConnectError.from(outcome.reason).code, Code.FailedPrecondition, String(outcome.reason));
      }
    }
    assert.ok(succeeded >= 10, `${succeeded} of 50 succeeded`);

    const state = await snapshot(app.db, fixture.projectId);
    assert.ok(state.liveDeploymentId && ids.includes(state.liveDeploymentId));
    for (const hostname of hostnamesAt(state, "live", "environment")) {
      assert.equal(state.routes.get(hostname)?.deploymentId, state.liveDeploymentId, `${hostname} on the live deployment`);
    }
    assert.deepEqual(assertGatewayBeforeRoute(state), []);
    const topology = await app.db.selectFrom("deployment_topology").select(["deployment_id", "desired_status"]).where("deployment_id", "=", state.liveDeploymentId!).execute();
    assert.ok(topology.every((t) => t.desired_status === "running"), "the live deployment runs");

    // Every successful call wrote exactly one event; none lost, none doubled.
    const newEvents = state.events.filter((e) => e.id > (before.events.at(-1)?.id ?? 0));
    const swaps = newEvents.filter((e) => ["DeploymentPromoted", "DeploymentRolledBack", "RollbackConfirmed"].includes(e.type));
    assert.equal(swaps.length, succeeded);
    const changes = await readChanges(app.db, startVersion, 10_000);
    changes.forEach((c, i) => assert.equal(c.version, startVersion + 1 + i, "versions strictly increasing without gaps"));
    // The last gateway-config change of each live hostname names the live deployment.
    for (const hostname of hostnamesAt(state, "live", "environment")) {
      const last = changes.filter((c) => c.kind === "gateway_config" && c.resourceKey === hostname).at(-1);
      if (last) assert.equal((last.payload as { deploymentId: string }).deploymentId, state.liveDeploymentId);
    }
  });
});

describe("different projects side by side", () => {
  let app: App;
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    await app?.stop();
  });

  // Concurrent creations lock neighbouring gaps of hostname_reservations; a deadlock victim is
  // run again instead of surfacing as Internal (it once failed CI exactly so).
  it("creates 16 projects at once, each with its environments, none failing", async () => {
    const results = await Promise.allSettled(Array.from({ length: 16 }, () => createProject(app, "acme", ["staging", "preview"])));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [String(ConnectError.from(r.reason).message)] : []));
    assert.deepEqual(failures, []);
    const ids = results.map((r) => (r as PromiseFulfilledResult<{ projectId: string }>).value.projectId);
    const environments = await app.db.selectFrom("environments").select(["project_id"]).where("project_id", "in", ids).execute();
    assert.equal(environments.length, 16 * 3);
  });

  // Every routing transaction (promote, rollback, activate, domain moves) starts with lockProject.
  // It once joined the workspace into its locking read, which locked the workspace row too: the
  // promotes of all projects of a workspace ran one after another.
  it("a routing lock holds its project's row only: another project of the same workspace is not kept waiting", async () => {
    const a = await createProject(app);
    const b = await createProject(app, "acme", [], a);
    assert.equal(a.workspaceId, b.workspaceId);
    // One connection, so its short lock wait timeout applies to every statement below.
    const other = createDb(app.stack.mariadb.url, { poolSize: 1 });
    try {
      await sql`SET SESSION innodb_lock_wait_timeout = 1`.execute(other);
      await app.db.transaction().execute(async (holding) => {
        await lockProject(holding, a.projectId);
        const locked = await other.transaction().execute((trx) => lockProject(trx, b.projectId));
        assert.equal(locked.id, b.projectId);
        assert.equal(locked.tenantId, "acme");
        // The lock is real: the same project waits, and gives up after the timeout.
        await assert.rejects(
          other.transaction().execute((trx) => lockProject(trx, a.projectId)),
          (error: unknown) => (error as { errno?: number }).errno === 1205, // ER_LOCK_WAIT_TIMEOUT
        );
      });
    } finally {
      await other.destroy();
    }
  });
});
