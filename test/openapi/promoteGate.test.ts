// A promote that knows its API: the project's breaking_changes policy decides what Promote (and a
// production deploy's automatic go-live) does when the candidate's spec breaks the live one's
// clients. v1 → v2 of the sample app's spec removes a path and adds a required parameter.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { BreakingChangesPolicy, OpenApiService, SpecChangeLevel } from "../../src/gen/ctrl/v1/openapi_pb.js";
import { LiveChangeOutcome } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected the call to fail");
}

describe("the promote gate on breaking API changes", () => {
  let app: App;
  let agent: Agent;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
  });

  const deployApi = () => app.client(DeployService, "acme");

  async function deployVariant(fixture: ProjectFixture, variant: string) {
    const created = await deployHello(app, fixture, { env: { HELLO_OPENAPI: variant } });
    const done = await waitForStatus(app, fixture.tenant, created.id, 30_000);
    assert.equal(done.status, DeploymentStatus.READY, `${variant}: ${done.errorMessage}`);
    return done;
  }

  /** A project with `policy`, v1 live. */
  async function projectWithLiveV1(policy?: BreakingChangesPolicy) {
    const fixture = await createProject(app);
    if (policy) await app.client(OpenApiService, "acme").updateApiSettings({ projectId: fixture.projectId, breakingChanges: policy });
    const v1 = await deployVariant(fixture, "v1");
    assert.equal(v1.isLive, true);
    return { fixture, v1: v1.id };
  }

  const apiEvents = async (deploymentId: string) =>
    (await app.db.selectFrom("events").select(["type", "payload"]).where("subject", "=", deploymentId).where("type", "=", "BreakingApiChange").orderBy("id").execute()).map(
      (e) => JSON.parse(e.payload) as { action: string; policy: string; liveDeploymentId: string; total: number; changes: { id: string; path: string }[] },
    );
  const liveOf = async (fixture: ProjectFixture) => (await deployApi().getProject({ projectId: fixture.projectId })).project!.liveDeploymentId;

  it("block: a production deploy with breaking changes becomes ready but not live; Promote answers FailedPrecondition naming them; allow_breaking_changes promotes", async () => {
    const { fixture, v1 } = await projectWithLiveV1(BreakingChangesPolicy.BLOCK);
    const v2 = await deployVariant(fixture, "v2");
    assert.equal(v2.isLive, false, "held back from going live by itself");
    assert.equal(await liveOf(fixture), v1);
    const [held] = await apiEvents(v2.id);
    assert.equal(held?.action, "blocked");
    assert.equal(held?.liveDeploymentId, v1);

    const refused = await rejection(deployApi().promote({ deploymentId: v2.id }));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.match(refused.rawMessage, /2 breaking API change\(s\) against live deployment/);
    assert.match(refused.rawMessage, /GET \/legacy: api path removed without deprecation \[api-path-removed-without-deprecation\]/);
    assert.match(refused.rawMessage, /\[new-required-request-parameter\]/);
    assert.match(refused.rawMessage, /allow_breaking_changes/);
    assert.equal(await liveOf(fixture), v1, "nothing moved");

    const promoted = await deployApi().promote({ deploymentId: v2.id, allowBreakingChanges: true });
    assert.equal(promoted.state?.outcome, LiveChangeOutcome.PROMOTED);
    assert.equal(promoted.state?.liveDeploymentId, v2.id);
    assert.deepEqual(promoted.breakingChanges.map((c) => c.id).sort(), ["api-path-removed-without-deprecation", "new-required-request-parameter"]);
    assert.ok(promoted.breakingChanges.every((c) => c.level === SpecChangeLevel.BREAKING));
    const events = await apiEvents(v2.id);
    assert.deepEqual(events.map((e) => e.action), ["blocked", "promoted"]);
  });

  it("block: a deploy without breaking changes goes live by itself", async () => {
    const { fixture } = await projectWithLiveV1(BreakingChangesPolicy.BLOCK);
    const same = await deployVariant(fixture, "v1");
    assert.equal(same.isLive, true);
    assert.deepEqual(await apiEvents(same.id), []);
  });

  it("warn (the default): the deploy goes live, the changes are emitted as a BreakingApiChange event, and a promote returns them", async () => {
    const { fixture, v1 } = await projectWithLiveV1();
    const v2 = await deployVariant(fixture, "v2");
    assert.equal(v2.isLive, true);
    const [warned] = await apiEvents(v2.id);
    assert.equal(warned?.action, "promoted");
    assert.equal(warned?.policy, "warn");
    assert.equal(warned?.total, 2);
    assert.deepEqual(warned?.changes.map((c) => c.id).sort(), ["api-path-removed-without-deprecation", "new-required-request-parameter"]);

    await deployApi().rollback({ deploymentId: v1 });
    const promoted = await deployApi().promote({ deploymentId: v2.id });
    assert.equal(promoted.state?.liveDeploymentId, v2.id);
    assert.equal(promoted.breakingChanges.length, 2);
    assert.equal((await apiEvents(v2.id)).length, 2, "one event per go-live");
  });

  it("allow: promoted without a word", async () => {
    const { fixture, v1 } = await projectWithLiveV1(BreakingChangesPolicy.ALLOW);
    const v2 = await deployVariant(fixture, "v2");
    assert.equal(v2.isLive, true);
    await deployApi().rollback({ deploymentId: v1 });
    const promoted = await deployApi().promote({ deploymentId: v2.id });
    assert.deepEqual(promoted.breakingChanges, []);
    assert.deepEqual(await apiEvents(v2.id), []);
  });

  it("a deployment that publishes no spec is not held back by a live one that does", async () => {
    const { fixture } = await projectWithLiveV1(BreakingChangesPolicy.BLOCK);
    const none = await deployVariant(fixture, "none");
    assert.equal(none.isLive, true);
  });
});
