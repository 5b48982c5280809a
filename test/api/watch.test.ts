// ClusterService watch streams: bootstrap from 0, resume from a version; a region's agent sees
// every tenant's desired state of its region, env values included.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ClusterService, DesiredStatus, InstanceStatus, RegionDeploymentStatus, type WatchGatewayConfigsResponse } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { toJsonString } from "@bufbuild/protobuf";
import { DeployService, GetDeploymentResponseSchema } from "../../src/gen/ctrl/v1/deploy_pb.js";

/** Reads messages from a stream until `done` says so (bounded), then cancels the stream. */
async function collect<T>(stream: (signal: AbortSignal) => AsyncIterable<T>, done: (seen: T[]) => boolean, timeoutMs = 15_000): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const seen: T[] = [];
  try {
    for await (const message of stream(controller.signal)) {
      seen.push(message);
      if (done(seen)) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  if (!done(seen)) throw new Error(`stream ended after ${seen.length} messages without the expected ones`);
  return seen;
}

describe("cluster watch streams", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
  });
  after(async () => {
    await app?.stop();
  });

  it("bootstraps gateway configs from 0, then streams later changes in version order", async () => {
    const fixture = await createProject(app);
    const v1 = await deploy(app, fixture);
    const cluster = app.client(ClusterService, { token: app.tokens.agents.local! });
    const boot = await collect(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: 0n, agentId: "gw-1" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    const upserts = boot.filter((m) => m.change.case === "upsert");
    assert.ok(upserts.length >= 3, `${upserts.length} configs in the snapshot`);
    const ofProject = upserts.filter((m) => m.change.case === "upsert" && m.change.value.projectId === fixture.projectId);
    assert.ok(ofProject.length >= 3, `${ofProject.length} configs of the project in the snapshot`);
    for (const m of ofProject) assert.equal((m.change.value as { deploymentId: string }).deploymentId, v1.id);
    const position = boot.at(-1)!.version;

    // Resume from the bootstrap position: a second deploy's configs arrive, in order.
    const v2 = await deploy(app, fixture);
    const resumed = await collect<WatchGatewayConfigsResponse>(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: position, agentId: "gw-1" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "upsert" && m.change.value.deploymentId === v2.id && m.change.value.hostname.startsWith(`${fixture.projectSlug}-${fixture.workspaceSlug}.`)),
    );
    const versions = resumed.map((m) => m.version);
    assert.deepEqual(versions, [...versions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.ok(versions.every((v) => v > position), "only later changes");
  });

  it("a report that changes a deployment's running addresses rewrites its gateway configs in the feed; one that changes nothing does not", async () => {
    const fixture = await createProject(app);
    const v1 = await deploy(app, fixture);
    const cluster = app.client(ClusterService, { token: app.tokens.agents.local! });
    const boot = await collect(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: 0n, agentId: "gw-addr" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    const position = boot.at(-1)!.version;
    const hostnames = boot.flatMap((m) => (m.change.case === "upsert" && m.change.value.deploymentId === v1.id ? [m.change.value.hostname] : []));
    assert.ok(hostnames.length >= 3, `${hostnames.length} configs of v1`);
    const report = (address: string, status = InstanceStatus.RUNNING) =>
      cluster.reportDeploymentStatus({
        deploymentId: v1.id,
        region: "local",
        status: RegionDeploymentStatus.RUNNING,
        instances: [{ instanceId: `${v1.id}-local-0`, status, address }],
      });
    await report("127.0.0.1:18080"); // the same as before: no change
    await report("127.0.0.1:18081"); // the instance restarted on another port
    const moved = await collect<WatchGatewayConfigsResponse>(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: position, agentId: "gw-addr" }, { signal }),
      (seen) => hostnames.every((h) => seen.some((m) => m.change.case === "upsert" && m.change.value.hostname === h)),
    );
    for (const m of moved) {
      assert.equal(m.change.case, "upsert");
      if (m.change.case !== "upsert") continue;
      assert.deepEqual(m.change.value.upstreams.map((u) => u.address), ["127.0.0.1:18081"], `${m.change.value.hostname} after the report`);
    }
    const afterMove = await currentVersion();
    await report("127.0.0.1:18081", InstanceStatus.STOPPED); // stopped: no running upstream left
    const emptied = await collect<WatchGatewayConfigsResponse>(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: afterMove, agentId: "gw-addr" }, { signal }),
      (seen) => hostnames.every((h) => seen.some((m) => m.change.case === "upsert" && m.change.value.hostname === h)),
    );
    for (const m of emptied) if (m.change.case === "upsert") assert.deepEqual(m.change.value.upstreams, []);
  });

  async function currentVersion(): Promise<bigint> {
    const cluster = app.client(ClusterService, { token: app.tokens.agents.local! });
    const boot = await collect(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: 0n, agentId: "gw-pos" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    return boot.at(-1)!.version;
  }

  it("streams every tenant's desired deployment state of the region, env values only to agents", async () => {
    const mine = await createProject(app, "acme");
    const theirs = await createProject(app, "globex");
    const a = await deploy(app, mine);
    const b = await deploy(app, theirs);
    const agent = app.client(ClusterService, { token: app.tokens.agents.local! });
    const boot = await collect(
      (signal) => agent.watchDeployments({ region: "local", fromVersion: 0n, agentId: "a" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    for (const id of [a.id, b.id]) {
      const state = boot.find((m) => m.change.case === "upsert" && m.change.value.deploymentId === id);
      assert.equal(state?.change.case === "upsert" && state.change.value.desiredStatus, DesiredStatus.RUNNING, id);
    }
    const desired = await agent.getDesiredDeploymentState({ deploymentId: b.id, region: "local" });
    assert.equal(desired.state?.image, "registry.example.com/web:1.0.0");
    assert.equal(desired.state?.projectId, theirs.projectId);

    // A change after the bootstrap position arrives with the deployment's env values.
    const position = boot.at(-1)!.version;
    const withEnv = await app.client(DeployService, "acme").createDeployment({
      workspaceId: mine.workspaceId,
      projectId: mine.projectId,
      environment: "production",
      source: { case: "image", value: { image: "registry.example.com/web:2.0.0", port: 8080, env: { GREETING: "hello" } } },
    });
    const resumed = await collect(
      (signal) => agent.watchDeployments({ region: "local", fromVersion: position, agentId: "a" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "upsert" && m.change.value.deploymentId === withEnv.deployment!.id),
    );
    const upsert = resumed.find((m) => m.change.case === "upsert" && m.change.value.deploymentId === withEnv.deployment!.id)!;
    assert.ok(upsert.change.case === "upsert");
    assert.deepEqual(upsert.change.value.env, { GREETING: "hello" });
    assert.equal(upsert.change.value.image, "registry.example.com/web:2.0.0");
    assert.equal(upsert.version, upsert.change.value.version);
    // Tenants see the keys only.
    const seenByTenant = await app.client(DeployService, "acme").getDeployment({ deploymentId: withEnv.deployment!.id });
    assert.deepEqual(seenByTenant.deployment?.envKeys, ["GREETING"]);
    assert.equal(toJsonString(GetDeploymentResponseSchema, seenByTenant).includes("hello"), false);
    await app.client(DeployService, "acme").cancelDeployment({ deploymentId: withEnv.deployment!.id }).catch(() => undefined);

    await assert.rejects(
      (async () => {
        for await (const _ of agent.watchDeployments({ region: "mars", fromVersion: 0n, agentId: "a" })) break;
      })(),
      /region/,
    );
  });
});
