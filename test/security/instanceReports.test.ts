// Issue 10 item 1: a status report touches only its own deployment's instances. B's deployment is
// reported with the instance id of one of tenant A's instances and an address of its own (before
// region credentials, tenant B itself could send that report; now an agent sends it, and agents
// report every tenant's deployments, so the keying must hold on its own); A's instance row and
// A's next gateway config must not change.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ClusterService, InstanceStatus, RegionDeploymentStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { until } from "../support/until.js";

describe("instance reports across tenants", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
  });
  after(async () => {
    await app?.stop();
  });

  it("a report with another deployment's instance id changes neither that instance nor its gateway config", async () => {
    const a = await createProject(app, "acme");
    const a1 = await deploy(app, a);
    await deploy(app, a); // a second deployment goes live, so rolling back to a1 rebuilds a1's configs
    const b = await createProject(app, "globex");
    const b1 = await deploy(app, b, { report: "none", wait: false });
    await until("B's desired state", () => app.db.selectFrom("deployment_topology").select("region").where("deployment_id", "=", b1.id).executeTakeFirst());
    const victimInstance = `${a1.id}-local-0`;
    const instancesOfA = () => app.db.selectFrom("instances").select(["deployment_id", "region", "id", "address", "status"]).where("deployment_id", "=", a1.id).execute();
    const before = await instancesOfA();
    assert.deepEqual(before.map((i) => i.address), ["127.0.0.1:18080"]);

    await app.client(ClusterService, { token: app.tokens.agents.local! }).reportDeploymentStatus({
      deploymentId: b1.id,
      region: "local",
      status: RegionDeploymentStatus.RUNNING,
      instances: [{ instanceId: victimInstance, status: InstanceStatus.RUNNING, address: "127.0.0.2:9999" }],
    });

    assert.deepEqual(await instancesOfA(), before, "A's instance row is unchanged");
    const ofB = await app.db.selectFrom("instances").select(["id", "address"]).where("deployment_id", "=", b1.id).execute();
    assert.deepEqual(ofB, [{ id: victimInstance, address: "127.0.0.2:9999" }], "the report went to B's own deployment");
    // A's next gateway config is built from A's instances: roll back to a1 and look at it.
    await app.client(DeployService, "acme").rollback({ deploymentId: a1.id });
    const hostname = `${a.projectSlug}-${a.workspaceSlug}.switchyard.test-apex.dev`;
    const { config } = await app.client(RoutingService, "acme").getGatewayConfig({ hostname });
    assert.equal(config?.deploymentId, a1.id);
    assert.deepEqual(config?.upstreams.map((u) => u.address), ["127.0.0.1:18080"]);
  });
});
