import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeployService, DeploymentPhase, DeploymentStatus, DeploymentStepStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { LiveChangeOutcome } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { assertGatewayBeforeRoute, hostnamesAt, snapshot } from "../support/routingState.js";

describe("deploy → live → deploy v2 → promote → rollback → confirm-rollback", () => {
  let app: App;
  let fixture: ProjectFixture;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    fixture = await createProject(app);
  });
  after(async () => {
    await app?.stop();
  });

  it("runs the whole cycle, keeping routes, gateway configs, pointer, flag and events consistent", async () => {
    const client = app.client(DeployService);
    const apex = "switchyard.test-apex.dev";
    const ws = fixture.workspaceSlug;
    const project = fixture.projectSlug;

    // 1. First production deploy: ready and live.
    const v1 = await deploy(app, fixture, { gitSha: "aaaaaaa1111111", branch: "main" });
    assert.equal(v1.status, DeploymentStatus.READY, v1.errorMessage);
    assert.equal(v1.isLive, true);
    const phases = v1.steps.map((s) => [DeploymentPhase[s.phase], DeploymentStepStatus[s.status]]);
    assert.deepEqual(phases.slice(-3), [["DEPLOY", "SUCCEEDED"], ["NETWORK", "SUCCEEDED"], ["FINALIZE", "SUCCEEDED"]]);
    let state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v1.id);
    assert.equal(state.isRolledBack, false);
    const live = `${project}-${ws}.${apex}`;
    const prodEnv = `${project}-env-production-${ws}.${apex}`;
    assert.deepEqual(hostnamesAt(state, "live", "environment"), [live, prodEnv].sort());
    assert.ok(state.routes.has(`${project}-git-aaaaaaa-${ws}.${apex}`), "per-commit hostname");
    assert.ok(state.routes.has(`${project}-git-main-${ws}.${apex}`), "per-branch hostname");
    for (const [, route] of state.routes) assert.equal(route.deploymentId, v1.id);
    assert.deepEqual(assertGatewayBeforeRoute(state), []);
    assert.deepEqual(
      state.events.map((e) => e.type),
      ["DomainsAssigned", "DeploymentReady", "DeploymentPromoted"],
    );

    // 2. Second deploy: ready and live (the project is not rolled back).
    const v2 = await deploy(app, fixture, { gitSha: "bbbbbbb2222222", branch: "main" });
    assert.equal(v2.status, DeploymentStatus.READY, v2.errorMessage);
    assert.equal(v2.isLive, true);
    state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v2.id);
    assert.equal(state.routes.get(live)?.deploymentId, v2.id);
    assert.equal(state.routes.get(`${project}-git-aaaaaaa-${ws}.${apex}`)?.deploymentId, v1.id, "per-commit hostnames never move");
    assert.equal(state.routes.get(`${project}-git-main-${ws}.${apex}`)?.deploymentId, v2.id, "branch hostname follows the branch");
    assert.deepEqual(assertGatewayBeforeRoute(state), []);

    // 3. Rollback to v1: live hostnames move back, the project is rolled back.
    const rolled = await client.rollback({ deploymentId: v1.id, expectedLiveDeploymentId: v2.id });
    assert.equal(rolled.state?.outcome, LiveChangeOutcome.ROLLED_BACK);
    assert.equal(rolled.state?.liveDeploymentId, v1.id);
    assert.equal(rolled.state?.previousLiveDeploymentId, v2.id);
    assert.equal(rolled.state?.isRolledBack, true);
    assert.deepEqual([...rolled.state!.movedHostnames].sort(), [live, prodEnv].sort());
    state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v1.id);
    assert.equal(state.isRolledBack, true);
    for (const hostname of [live, prodEnv]) assert.equal(state.routes.get(hostname)?.deploymentId, v1.id);
    assert.deepEqual(assertGatewayBeforeRoute(state), []);

    // 4. A deploy while rolled back becomes ready but does not take live traffic.
    const v3 = await deploy(app, fixture, { gitSha: "ccccccc3333333", branch: "main" });
    assert.equal(v3.status, DeploymentStatus.READY, v3.errorMessage);
    assert.equal(v3.isLive, false);
    state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v1.id);
    assert.equal(state.routes.get(live)?.deploymentId, v1.id, "live routes are left alone while rolled back");
    assert.equal(state.routes.get(`${project}-git-main-${ws}.${apex}`)?.deploymentId, v3.id);

    // 5. Promote v2 while rolled back: becomes live, the flag is cleared.
    const promoted = await client.promote({ deploymentId: v2.id });
    assert.equal(promoted.state?.outcome, LiveChangeOutcome.PROMOTED);
    assert.equal(promoted.state?.isRolledBack, false);
    state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v2.id);
    assert.equal(state.isRolledBack, false);
    for (const hostname of [live, prodEnv]) assert.equal(state.routes.get(hostname)?.deploymentId, v2.id);

    // 6. Roll back again, then confirm the rollback by promoting the live deployment.
    await client.rollback({ deploymentId: v1.id });
    const confirmed = await client.promote({ deploymentId: v1.id });
    assert.equal(confirmed.state?.outcome, LiveChangeOutcome.ROLLBACK_CONFIRMED);
    assert.equal(confirmed.state?.isRolledBack, false);
    assert.deepEqual(confirmed.state?.movedHostnames, []);
    state = await snapshot(app.db, fixture.projectId);
    assert.equal(state.liveDeploymentId, v1.id);
    assert.equal(state.isRolledBack, false);
    assert.deepEqual(assertGatewayBeforeRoute(state), []);

    const lifecycle = state.events.map((e) => e.type).filter((t) => t !== "DomainsAssigned");
    assert.deepEqual(lifecycle, [
      "DeploymentReady", // v1
      "DeploymentPromoted",
      "DeploymentReady", // v2
      "DeploymentPromoted",
      "DeploymentRolledBack", // → v1
      "DeploymentReady", // v3, not live
      "DeploymentPromoted", // v2
      "DeploymentRolledBack", // → v1
      "RollbackConfirmed",
    ]);
    const ids = state.events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "event ids increase");
  });
});
