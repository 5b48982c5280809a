// Region credentials (issue 11 item 2): ClusterService answers only region agents, each only for
// its own region, across tenants; a region credential reaches nothing of the tenant API.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { ClusterService, InstanceStatus, RegionDeploymentStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { CtrlService } from "../../src/gen/ctrl/v1/ctrl_pb.js";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { OpenApiService } from "../../src/gen/ctrl/v1/openapi_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { until } from "../support/until.js";

const TENANT_SERVICES: DescService[] = [DeployService, RoutingService, NetworkService, AcmeService, OpenApiService];

/** The Connect code of one call (unary, or the first message of a stream), or "ok". */
async function codeOf(app: App, service: DescService, method: string, as: Parameters<App["client"]>[1], request: object = {}): Promise<string> {
  const client = app.client(service, as) as Record<string, (req: object) => unknown>;
  const kind = service.methods.find((m) => m.localName === method)!.methodKind;
  try {
    if (kind === "server_streaming") {
      for await (const _ of client[method]!(request) as AsyncIterable<unknown>) break;
    } else {
      await client[method]!(request);
    }
    return "ok";
  } catch (error) {
    return Code[ConnectError.from(error).code]!;
  }
}

describe("region credentials", () => {
  let app: App;
  let deploymentId: string;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_REGIONS: "local,eu" } });
    const fixture = await createProject(app, "globex");
    deploymentId = (await deploy(app, fixture, { report: "none", wait: false })).id;
    await until("the deployment's topology", async () => (await app.db.selectFrom("deployment_topology").select("region").where("deployment_id", "=", deploymentId).execute()).length === 2);
  });
  after(async () => {
    await app?.stop();
  });

  const requests = () => ({
    watchDeployments: { region: "local", fromVersion: 0n, agentId: "a" },
    watchGatewayConfigs: { region: "local", fromVersion: 0n, agentId: "a" },
    getDesiredDeploymentState: { deploymentId, region: "local" },
    reportDeploymentStatus: { deploymentId, region: "local", status: RegionDeploymentStatus.PENDING },
    heartbeat: { region: "local", agentId: "a" },
    getGatewayCertificate: { region: "local", hostname: "nothing-issued.example.invalid" },
  });
  // What the region's own agent gets: the call is allowed; no certificate was issued in this test.
  const answerForAgent: Record<string, string> = { getGatewayCertificate: "NotFound" };

  it("a tenant token gets PermissionDenied on every ClusterService RPC", async () => {
    for (const method of ClusterService.methods) {
      const request = requests()[method.localName as keyof ReturnType<typeof requests>];
      assert.ok(request, method.localName);
      for (const tenant of ["acme", "globex"] as const) {
        assert.equal(await codeOf(app, ClusterService, method.localName, tenant, request), "PermissionDenied", `${method.name} as ${tenant}`);
      }
    }
  });

  it("the region's agent may call every ClusterService RPC for its region, across tenants", async () => {
    for (const method of ClusterService.methods) {
      const request = requests()[method.localName as keyof ReturnType<typeof requests>];
      assert.equal(await codeOf(app, ClusterService, method.localName, { token: app.tokens.agents.local! }, request), answerForAgent[method.localName] ?? "ok", method.name);
    }
  });

  it("an agent of one region gets PermissionDenied for another region, and InvalidArgument for an unknown one", async () => {
    for (const method of ClusterService.methods) {
      const request = { ...requests()[method.localName as keyof ReturnType<typeof requests>], region: "eu" };
      assert.equal(await codeOf(app, ClusterService, method.localName, { token: app.tokens.agents.local! }, request), "PermissionDenied", `${method.name} local → eu`);
      const unknown = { ...request, region: "mars" };
      assert.equal(await codeOf(app, ClusterService, method.localName, { token: app.tokens.agents.eu! }, unknown), "InvalidArgument", `${method.name} → mars`);
    }
    // Nothing was written by the refused report.
    const rows = await app.db.selectFrom("instances").select("id").where("deployment_id", "=", deploymentId).where("region", "=", "eu").execute();
    assert.deepEqual(rows, []);
  });

  it("an agent's report for its region counts for that region only", async () => {
    const eu = app.client(ClusterService, { token: app.tokens.agents.eu! });
    await eu.reportDeploymentStatus({
      deploymentId,
      region: "eu",
      status: RegionDeploymentStatus.RUNNING,
      instances: [{ instanceId: "eu-0", status: InstanceStatus.RUNNING, address: "127.0.0.1:18081" }],
    });
    const rows = await app.db.selectFrom("instances").select(["region", "id"]).where("deployment_id", "=", deploymentId).orderBy("region").execute();
    assert.deepEqual(rows, [{ region: "eu", id: "eu-0" }]);
  });

  it("records each process's last heartbeat per region, counts it alive or silent, and refuses bad input writing nothing", async () => {
    const eu = app.client(ClusterService, { token: app.tokens.agents.eu! });
    const beat = (agentId: string, versions: { deploymentsVersion?: bigint; gatewayConfigsVersion?: bigint } = {}) => eu.heartbeat({ region: "eu", agentId, agentVersion: "0.1.0", ...versions });
    const row = (id: string) => app.db.selectFrom("region_heartbeats").selectAll().where("region", "=", "eu").where("process_id", "=", id).executeTakeFirst();
    const answer = await beat("eu-agent-1", { deploymentsVersion: 7n });
    assert.equal(Number(answer.interval?.seconds), 10, "the server tells the interval");
    const first = await row("eu-agent-1");
    assert.deepEqual([first?.process_version, first?.deployments_version, first?.gateway_configs_version], ["0.1.0", 7, 0]);
    await beat("eu-agent-1", { deploymentsVersion: 9n });
    const second = await row("eu-agent-1");
    assert.equal(second?.deployments_version, 9, "the newest heartbeat wins");
    assert.deepEqual(second?.first_seen_at, first?.first_seen_at);
    assert.ok(second!.last_seen_at >= first!.last_seen_at);
    await beat("eu-gateway-1", { gatewayConfigsVersion: 3n });

    // One process went quiet a minute ago: the gauge counts it silent, the other alive.
    await app.db.updateTable("region_heartbeats").set({ last_seen_at: new Date(Date.now() - 60_000) }).where("process_id", "=", "eu-gateway-1").execute();
    const metrics = await (await fetch(`http://${app.env.SWITCHYARD_METRICS_LISTEN}/metrics`)).text();
    assert.match(metrics, /^switchyard_region_processes\{region="eu",state="alive"\} 1$/m);
    assert.match(metrics, /^switchyard_region_processes\{region="eu",state="silent"\} 1$/m);

    for (const [request, field] of [
      [{ region: "eu", agentId: "eu-agent-2", agentVersion: "x".repeat(65) }, "agent_version"],
      [{ region: "eu", agentId: "eu-agent-2", agentVersion: "1.0 beta" }, "agent_version"],
      [{ region: "eu", agentId: "bad id" }, "agent_id"],
    ] as const) {
      const error = await eu.heartbeat(request).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.equal(error?.code, Code.InvalidArgument, field);
      assert.match(error!.rawMessage, new RegExp(`^${field}`));
    }
    assert.equal(await row("eu-agent-2"), undefined, "a refused heartbeat writes nothing");
  });

  it("a region credential gets PermissionDenied on every tenant RPC, and answers CtrlService", async () => {
    for (const service of TENANT_SERVICES) {
      for (const method of service.methods) {
        assert.equal(await codeOf(app, service, method.localName, { token: app.tokens.agents.local! }), "PermissionDenied", `${service.typeName}/${method.name}`);
      }
    }
    assert.equal((await app.client(CtrlService, { token: app.tokens.agents.local! }).liveness({})).status, "ok");
  });

  it("a wrong or missing token is Unauthenticated, not PermissionDenied", async () => {
    assert.equal(await codeOf(app, ClusterService, "heartbeat", { token: `${app.tokens.agents.local}x` }, requests().heartbeat), "Unauthenticated");
    assert.equal(await codeOf(app, ClusterService, "heartbeat", {}, requests().heartbeat), "Unauthenticated");
  });
});
