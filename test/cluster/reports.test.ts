// ReportDeploymentStatus: a report replaces the deployment's instances of its region, stale
// reports are ignored, and bad input is InvalidArgument naming the field with nothing written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ClusterService, InstanceStatus, RegionDeploymentStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ReportDeploymentStatusRequestSchema } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { until } from "../support/until.js";

type Report = MessageInitShape<typeof ReportDeploymentStatusRequestSchema>;

describe("ReportDeploymentStatus", () => {
  let app: App;
  let deploymentId: string;
  const agent = () => app.client(ClusterService, { token: app.tokens.agents.local! });
  const instances = async () =>
    (await app.db.selectFrom("instances").select(["id", "status", "address"]).where("deployment_id", "=", deploymentId).orderBy("id").execute()).map(
      (i) => `${i.id}=${i.status}@${i.address ?? ""}`,
    );
  const running = (id: string, address = "127.0.0.1:18080") => ({ instanceId: id, status: InstanceStatus.RUNNING, address });
  const report = (fields: Partial<Report>) => agent().reportDeploymentStatus({ deploymentId, region: "local", status: RegionDeploymentStatus.PENDING, ...fields } as Report);

  before(async () => {
    // The instance timeout keeps the deployment waiting; nothing here lets it become ready.
    app = await startApp({ env: { SWITCHYARD_INSTANCE_READY_TIMEOUT: "1h" } });
    const fixture = await createProject(app);
    deploymentId = (await deploy(app, fixture, { report: "none", wait: false })).id;
    await until("the deployment's topology", () => app.db.selectFrom("deployment_topology").select("region").where("deployment_id", "=", deploymentId).executeTakeFirst());
  });
  after(async () => {
    await app?.stop();
  });

  it("replaces the region's list: instances missing from a report are gone", async () => {
    await report({ instances: [running("i-0"), running("i-1", "127.0.0.1:18081")] });
    assert.deepEqual(await instances(), ["i-0=running@127.0.0.1:18080", "i-1=running@127.0.0.1:18081"]);
    await report({ instances: [{ instanceId: "i-1", status: InstanceStatus.STOPPED, address: "" }, running("i-2", "[::1]:18082")] });
    assert.deepEqual(await instances(), ["i-1=stopped@", "i-2=running@[::1]:18082"]);
    await report({ instances: [] });
    assert.deepEqual(await instances(), []);
  });

  it("ignores a report older than the last one applied (observed_version)", async () => {
    await report({ observedVersion: 50n, instances: [running("new")] });
    await report({ observedVersion: 40n, instances: [running("late")] });
    assert.deepEqual(await instances(), ["new=running@127.0.0.1:18080"]);
    await report({ observedVersion: 50n, instances: [running("same-version")] });
    assert.deepEqual(await instances(), ["same-version=running@127.0.0.1:18080"]);
    await report({ observedVersion: 0n, instances: [running("unversioned")] });
    assert.deepEqual(await instances(), ["unversioned=running@127.0.0.1:18080"]);
  });

  it("answers NotFound for a deployment without desired state in the region", async () => {
    await assert.rejects(
      agent().reportDeploymentStatus({ deploymentId: "dep_00000000000000000000000000", region: "local", status: RegionDeploymentStatus.RUNNING }),
      (error: unknown) => ConnectError.from(error).code === Code.NotFound,
    );
  });

  it("refuses bad input with InvalidArgument naming the field, writing nothing", async () => {
    await report({ instances: [running("keep")] });
    const before = await instances();
    const cases: [string, Partial<Report>][] = [
      ["deployment_id", { deploymentId: "" }],
      ["status", { status: 0 as RegionDeploymentStatus }],
      ["status", { status: 99 as RegionDeploymentStatus }],
      ["status", { status: -1 as RegionDeploymentStatus }],
      ["instances[0].status", { instances: [{ instanceId: "x", status: 99 as InstanceStatus }] }],
      ["instances[0].status", { instances: [{ instanceId: "x", status: InstanceStatus.UNSPECIFIED }] }],
      ["instances[1].instance_id", { instances: [running("dup"), running("dup", "127.0.0.1:18081")] }],
      ["instances[0].instance_id", { instances: [running("")] }],
      ["message", { message: "bad\u0000byte" }],
      ["idempotency_key", { idempotencyKey: "k\u0001" }],
      ...[
        "10.0.0.1:8080", // outside the loopback default
        "8.8.8.8:53",
        "[::ffff:10.0.0.1]:80", // IPv4-mapped: judged as 10.0.0.1
        "localhost:8080",
        "app.example.com:8080",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:080",
        "127.1:8080",
        "0x7f000001:8080",
        "2130706433:8080",
        "::1:8080",
        "[::1]",
        "127.0.0.1:8080/path",
        "http://127.0.0.1:8080",
        " 127.0.0.1:8080",
        "１２７.0.0.1:8080",
        "127.0.0.1:８０",
        "ünïcødé:80",
      ].map((address): [string, Partial<Report>] => ["instances[0].address", { instances: [running("x", address)] }]),
    ];
    for (const [field, fields] of cases) {
      await assert.rejects(
        agent().reportDeploymentStatus({ deploymentId, region: "local", status: RegionDeploymentStatus.RUNNING, ...fields } as Report),
        (error: unknown) => {
          const e = ConnectError.from(error);
          return e.code === Code.InvalidArgument && e.rawMessage.startsWith(`${field}:`);
        },
        `${JSON.stringify(fields)} → InvalidArgument on ${field}`,
      );
    }
    assert.deepEqual(await instances(), before);
  });

  it("answers a non-ASCII address sent as Connect JSON with InvalidArgument (never Internal)", async () => {
    const response = await fetch(`${app.switchyard.url}/ctrl.v1.ClusterService/ReportDeploymentStatus`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.tokens.agents.local}` },
      body: JSON.stringify({ deploymentId, region: "local", status: "REGION_DEPLOYMENT_STATUS_RUNNING", instances: [{ instanceId: "x", status: 2, address: "адрес:80" }] }),
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { code: string; message: string };
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /^instances\[0\]\.address:/);
  });
});
