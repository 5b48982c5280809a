// The gate table of Promote and Rollback through the real API: each case with its exact code.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { LiveChangeOutcome } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return Code[ConnectError.from(error).code]!;
  }
}

describe("promote and rollback gates", () => {
  let app: App;
  let fixture: ProjectFixture;
  const ids: Record<string, string> = {};

  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    fixture = await createProject(app, "acme", ["preview"]);
    ids.old = (await deploy(app, fixture)).id;
    ids.ready = (await deploy(app, fixture)).id; // live
    ids.spare = (await deploy(app, fixture)).id; // live now; `ready` is an earlier ready one
    ids.failed = (await deploy(app, fixture, { report: "failed" })).id;
    ids.waiting = (await deploy(app, fixture, { report: "none", wait: false })).id;
    ids.preview = (await deploy(app, fixture, { environment: "preview" })).id;
    const other = await createProject(app, "globex");
    ids.foreign = (await deploy(app, other)).id;
    const failed = await app.client(DeployService).getDeployment({ deploymentId: ids.failed });
    assert.equal(failed.deployment?.status, DeploymentStatus.FAILED);
  });
  after(async () => {
    await app?.stop();
  });

  it("answers each promote case with its code", async () => {
    const client = app.client(DeployService);
    const cases: [string, () => Promise<unknown>, string][] = [
      ["empty deployment_id", () => client.promote({ deploymentId: "" }), "InvalidArgument"],
      ["unknown deployment", () => client.promote({ deploymentId: "dep_01jdoesnotexist0000000000" }), "NotFound"],
      ["another tenant's deployment", () => client.promote({ deploymentId: ids.foreign! }), "NotFound"],
      ["project guard mismatch", () => client.promote({ deploymentId: ids.ready!, projectId: "prj_01jothernotmine0000000000" }), "InvalidArgument"],
      ["a deployment still deploying", () => client.promote({ deploymentId: ids.waiting! }), "FailedPrecondition"],
      ["a failed deployment", () => client.promote({ deploymentId: ids.failed! }), "FailedPrecondition"],
      ["a preview deployment", () => client.promote({ deploymentId: ids.preview! }), "FailedPrecondition"],
      ["the live deployment", () => client.promote({ deploymentId: ids.spare! }), "FailedPrecondition"],
      ["an earlier ready production deployment", () => client.promote({ deploymentId: ids.ready! }), "OK"],
    ];
    for (const [name, call, expected] of cases) assert.equal(await codeOf(call()), expected, name);
  });

  it("answers each rollback case with its code", async () => {
    const client = app.client(DeployService);
    // Now `ready` is live, `spare` and `old` are earlier ready ones.
    const cases: [string, () => Promise<unknown>, string][] = [
      ["empty deployment_id", () => client.rollback({ deploymentId: "" }), "InvalidArgument"],
      ["unknown deployment", () => client.rollback({ deploymentId: "dep_01jdoesnotexist0000000000" }), "NotFound"],
      ["another tenant's deployment", () => client.rollback({ deploymentId: ids.foreign! }), "NotFound"],
      ["the live deployment", () => client.rollback({ deploymentId: ids.ready! }), "FailedPrecondition"],
      ["a stale expected live", () => client.rollback({ deploymentId: ids.old!, expectedLiveDeploymentId: ids.spare! }), "FailedPrecondition"],
      ["a failed deployment", () => client.rollback({ deploymentId: ids.failed! }), "FailedPrecondition"],
      ["a deployment still deploying", () => client.rollback({ deploymentId: ids.waiting! }), "FailedPrecondition"],
      ["a preview deployment", () => client.rollback({ deploymentId: ids.preview! }), "FailedPrecondition"],
      ["a malformed expected live", () => client.rollback({ deploymentId: ids.old!, expectedLiveDeploymentId: "not an id!" }), "InvalidArgument"],
      ["an earlier ready deployment", () => client.rollback({ deploymentId: ids.old!, expectedLiveDeploymentId: ids.ready! }), "OK"],
    ];
    for (const [name, call, expected] of cases) assert.equal(await codeOf(call()), expected, name);
  });

  it("confirms a rollback by promoting the live deployment, then refuses a second confirmation", async () => {
    const client = app.client(DeployService);
    const confirmed = await client.promote({ deploymentId: ids.old! });
    assert.equal(confirmed.state?.outcome, LiveChangeOutcome.ROLLBACK_CONFIRMED);
    assert.equal(await codeOf(client.promote({ deploymentId: ids.old! })), "FailedPrecondition");
  });

  it("explains a refused promote in a message a pipeline can act on", async () => {
    const error = await app
      .client(DeployService)
      .promote({ deploymentId: ids.failed! })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.match(error?.rawMessage ?? "", /is failed; only a ready deployment can be promoted/);
  });
});
