// Standby and rollback with a real agent: the previous live deployment's processes stop after the
// grace period, the live one's never do, and a rollback to a deployment in standby brings its
// instances back before live traffic (its gateway configs) points at it.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { fromJson } from "../../src/db/schema.js";
import type { GatewayConfigBody } from "../../src/routing/gatewayConfig.js";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { InstanceStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { appProcesses } from "../support/appProcesses.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { askHello, deployHello, getDeployment } from "../support/helloApp.js";
import { until } from "../support/until.js";

const GRACE = "2s";

describe("standby and rollback with the agent", () => {
  let app: App;
  let agent: Agent;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: GRACE } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms", SWITCHYARD_AGENT_RESYNC_INTERVAL: "2s" } });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
  });

  async function readyDeployment(fixture: ProjectFixture, version: string) {
    const created = await deployHello(app, fixture, { env: { APP_VERSION: version } });
    const ready = await waitForStatus(app, "acme", created.id, 30_000);
    assert.equal(ready.status, DeploymentStatus.READY, ready.errorMessage);
    return ready;
  }

  /** The live hostname's gateway config: which deployment and which upstreams get live traffic. */
  async function liveGatewayConfig(fixture: ProjectFixture) {
    const row = await app.db
      .selectFrom("gateway_configs")
      .select("config")
      .where("hostname", "like", `${fixture.projectSlug}-${fixture.workspaceSlug}.%`)
      .executeTakeFirstOrThrow();
    return fromJson<GatewayConfigBody>(row.config)!;
  }

  it("live-never-stopped: the previous live's processes stop after the grace period, the live one's never; a rollback to it runs its instances before the swap", async () => {
    const fixture = await createProject(app);
    const v1 = await readyDeployment(fixture, "1.0.0");
    const v2 = await readyDeployment(fixture, "2.0.0");
    assert.equal(v2.isLive, true);
    const v2Pids = appProcesses(v2.id).map((p) => p.pid);
    assert.equal(v2Pids.length, 1);

    // v1 went to standby after the grace period: its process is stopped, its instance reported so.
    await until("v1's process to stop after the grace period", () => appProcesses(v1.id).length === 0, 20_000);
    await until(
      "v1's instance to be reported stopped",
      async () => (await getDeployment(app, fixture, v1.id)).instances.every((i) => i.status === InstanceStatus.STOPPED),
      10_000,
    );
    assert.deepEqual(appProcesses(v2.id).map((p) => p.pid), v2Pids, "the live deployment's process was never stopped");

    // Rollback to the standby v1: it answers only once its instance runs again, and the live
    // hostname's gateway config then names v1 with the address of that running instance.
    const { state } = await app.client(DeployService).rollback({ deploymentId: v1.id });
    assert.equal(state?.liveDeploymentId, v1.id);
    const config = await liveGatewayConfig(fixture);
    assert.equal(config.deploymentId, v1.id);
    assert.equal(config.upstreams.length, 1, "live traffic goes to a running instance, never to none");
    const answer = await askHello(config.upstreams[0]!.address);
    assert.equal(answer.version, "1.0.0", "the upstream is v1's running process");
    const v1Pids = appProcesses(v1.id).map((p) => p.pid);
    assert.deepEqual(v1Pids, [answer.pid]);

    // Now v2 is the previous live: stopped after the grace; v1, live, keeps its process.
    await until("v2's process to stop after the grace period", () => appProcesses(v2.id).length === 0, 20_000);
    assert.deepEqual(appProcesses(v1.id).map((p) => p.pid), v1Pids, "the live deployment's process was never stopped");
  });

  it("a change the feed never delivered is corrected by the periodic resync (GetDesiredDeploymentState)", async () => {
    const fixture = await createProject(app);
    const created = await readyDeployment(fixture, "1.0.0");
    assert.equal(appProcesses(created.id).length, 1);
    // Desired state changed behind the feed's back: no change row, so no watch stream carries it.
    await app.db.updateTable("deployment_topology").set({ desired_status: "stopped" }).where("deployment_id", "=", created.id).execute();
    await until("the resync to stop the deployment's process", () => appProcesses(created.id).length === 0, 20_000);
    assert.match(fs.readFileSync(agent.process.logFile, "utf8"), /resync corrected desired states the feed had not delivered/);
  });
});
