// ClusterService watch streams: bootstrap from 0, resume from a version, tenant isolation.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ClusterService, DesiredStatus, type WatchGatewayConfigsResponse } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";

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
    const cluster = app.client(ClusterService);
    const boot = await collect(
      (signal) => cluster.watchGatewayConfigs({ region: "local", fromVersion: 0n, agentId: "gw-1" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    const upserts = boot.filter((m) => m.change.case === "upsert");
    assert.ok(upserts.length >= 3, `${upserts.length} configs in the snapshot`);
    for (const m of upserts) assert.equal((m.change.value as { deploymentId: string }).deploymentId, v1.id);
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

  it("streams desired deployment state and shows another tenant nothing", async () => {
    const fixture = await createProject(app);
    const deployment = await deploy(app, fixture);
    const mine = await collect(
      (signal) => app.client(ClusterService).watchDeployments({ region: "local", fromVersion: 0n, agentId: "a" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    const state = mine.find((m) => m.change.case === "upsert" && m.change.value.deploymentId === deployment.id);
    assert.equal(state?.change.case === "upsert" && state.change.value.desiredStatus, DesiredStatus.RUNNING);
    const theirs = await collect(
      (signal) => app.client(ClusterService, "globex").watchDeployments({ region: "local", fromVersion: 0n, agentId: "b" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    assert.equal(theirs.some((m) => m.change.case === "upsert" && m.change.value.deploymentId === deployment.id), false);
    const desired = await app.client(ClusterService).getDesiredDeploymentState({ deploymentId: deployment.id, region: "local" });
    assert.equal(desired.state?.image, "registry.example.com/web:1.0.0");
    await assert.rejects(app.client(ClusterService, "globex").getDesiredDeploymentState({ deploymentId: deployment.id, region: "local" }), /not found/);
    await assert.rejects(
      (async () => {
        for await (const _ of app.client(ClusterService).watchDeployments({ region: "mars", fromVersion: 0n, agentId: "a" })) break;
      })(),
      /region/,
    );
  });
});
