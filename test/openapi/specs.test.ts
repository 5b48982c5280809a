// OpenAPI specs end to end: the sample app (examples/hello) serves /openapi.yaml, the real agent
// runs it, the Deployment workflow scrapes the spec from the instance's reported address, and
// GetSpec / GetDiff answer from what was stored. v1 and v2 of the sample app's spec differ by a
// removed path, a new required parameter, a new response enum value, an added optional field and
// a new request enum value.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { BreakingChangesPolicy, OpenApiService, SpecChangeLevel, type GetDiffResponse } from "../../src/gen/ctrl/v1/openapi_pb.js";
import { repoRoot, startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";

const specFile = (name: string) => fs.readFileSync(path.join(repoRoot, "examples", "hello", "openapi", `${name}.yaml`), "utf8");

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected the call to fail");
}

describe("OpenAPI specs scraped at deploy", () => {
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

  const openapi = () => app.client(OpenApiService, "acme");

  /** Deploys the sample app serving spec `variant` and waits until it is READY. */
  async function deployVariant(fixture: ProjectFixture, variant: string, env: Record<string, string> = {}) {
    const created = await deployHello(app, fixture, { env: { HELLO_OPENAPI: variant, ...env } });
    const done = await waitForStatus(app, fixture.tenant, created.id, 30_000);
    assert.equal(done.status, DeploymentStatus.READY, `${variant}: ${done.errorMessage}`);
    return done;
  }

  it("a deploy scrapes the spec from its running instance: GetSpec returns it as served, with its hash and format; the same bytes are stored once", async () => {
    const fixture = await createProject(app);
    const first = await deployVariant(fixture, "v1");
    const spec = await openapi().getSpec({ deploymentId: first.id });
    assert.equal(spec.deploymentId, first.id);
    assert.equal(spec.spec, specFile("v1"));
    assert.equal(spec.contentType, "application/yaml");
    assert.equal(spec.hash, createHash("sha256").update(specFile("v1")).digest("hex"));
    assert.deepEqual(spec.problems, []);
    assert.equal(spec.specPath, "/openapi.yaml");
    assert.ok(spec.scrapeTime, "scrape time set");

    const second = await deployVariant(fixture, "v1");
    assert.equal((await openapi().getSpec({ deploymentId: second.id })).hash, spec.hash);
    const documents = await app.db.selectFrom("openapi_documents").select("hash").where("hash", "=", spec.hash).execute();
    assert.equal(documents.length, 1, "one stored copy for two deployments");
    const scrapes = await app.db.selectFrom("openapi_specs").select("deployment_id").where("document_hash", "=", spec.hash).execute();
    assert.deepEqual(scrapes.map((s) => s.deployment_id).sort(), [first.id, second.id].sort());
  });

  it("the project's spec path is where the scrape looks; a redirect on the instance itself is followed", async () => {
    const fixture = await createProject(app);
    const settings = await openapi().updateApiSettings({ projectId: fixture.projectId, specPath: "/openapi/v2.yaml" });
    assert.equal(settings.settings?.specPath, "/openapi/v2.yaml");
    const custom = await deployVariant(fixture, "v1");
    assert.equal((await openapi().getSpec({ deploymentId: custom.id })).spec, specFile("v2"));
    await openapi().updateApiSettings({ projectId: fixture.projectId, specPath: "/openapi.yaml" });
    const redirected = await deployVariant(fixture, "local-redirect");
    assert.equal((await openapi().getSpec({ deploymentId: redirected.id })).spec, specFile("v1"));
  });

  describe("GetDiff", () => {
    let fixture: ProjectFixture;
    let v1: string;
    let v2: string;
    let diff: GetDiffResponse;
    before(async () => {
      fixture = await createProject(app);
      await openapi().updateApiSettings({ projectId: fixture.projectId, breakingChanges: BreakingChangesPolicy.ALLOW });
      v1 = (await deployVariant(fixture, "v1")).id;
      v2 = (await deployVariant(fixture, "v2")).id;
      diff = await openapi().getDiff({ oldDeploymentId: v1, newDeploymentId: v2 });
    });

    const change = (id: string) => {
      const found = diff.changes.filter((c) => c.id === id);
      assert.equal(found.length, 1, `one ${id} in ${JSON.stringify(diff.changes.map((c) => c.id))}`);
      return found[0]!;
    };

    it("a removed path is breaking", () => {
      const removed = change("api-path-removed-without-deprecation");
      assert.equal(removed.level, SpecChangeLevel.BREAKING);
      assert.equal(removed.path, "/legacy");
      assert.equal(removed.method, "GET");
      assert.ok(removed.message.length > 0);
    });

    it("a new required parameter is breaking, and names the operation", () => {
      const required = change("new-required-request-parameter");
      assert.equal(required.level, SpecChangeLevel.BREAKING);
      assert.equal(required.path, "/");
      assert.equal(required.operationId, "getHello");
      assert.match(required.message, /lang/);
    });

    it("an added optional response field is info", () => {
      const added = change("response-optional-property-added");
      assert.equal(added.level, SpecChangeLevel.INFO);
      assert.match(added.message, /greeting/);
    });

    it("an added enum value is a warning in a response and info in a request parameter", () => {
      assert.equal(change("response-property-enum-value-added").level, SpecChangeLevel.WARNING);
      assert.equal(change("request-parameter-enum-value-added").level, SpecChangeLevel.INFO);
    });

    it("says it has breaking changes, breaking ones first, each with a fingerprint", () => {
      assert.equal(diff.hasBreakingChanges, true);
      assert.equal(diff.changes[0]!.level, SpecChangeLevel.BREAKING);
      assert.ok(diff.changes.every((c) => c.fingerprint !== "" && c.id !== ""));
      assert.equal(diff.oldDeploymentId, v1);
      assert.equal(diff.newDeploymentId, v2);
    });

    it("without old_deployment_id a live deployment is compared with the one it replaced, another with the live one", async () => {
      const againstReplaced = await openapi().getDiff({ newDeploymentId: v2 });
      assert.equal(againstReplaced.oldDeploymentId, v1);
      assert.deepEqual(againstReplaced.changes.map((c) => c.fingerprint), diff.changes.map((c) => c.fingerprint));
      const againstLive = await openapi().getDiff({ newDeploymentId: v1 });
      assert.equal(againstLive.oldDeploymentId, v2, "v2 is live");
      assert.ok(againstLive.changes.some((c) => c.id === "endpoint-added" && c.path === "/legacy"), "v1 adds /legacy back");
    });

    it("identical specs → no changes", async () => {
      const same = await deployVariant(fixture, "v2");
      const none = await openapi().getDiff({ oldDeploymentId: v2, newDeploymentId: same.id });
      assert.deepEqual(none.changes, []);
      assert.equal(none.hasBreakingChanges, false);
    });
  });

  describe("bad input", () => {
    let fixture: ProjectFixture;
    let deploymentId: string;
    before(async () => {
      fixture = await createProject(app);
      deploymentId = (await deployVariant(fixture, "v1")).id;
    });

    it("GetSpec: an empty id names the field; an unknown id and another tenant's deployment answer the same NotFound", async () => {
      const empty = await rejection(openapi().getSpec({ deploymentId: "" }));
      assert.equal(empty.code, Code.InvalidArgument);
      assert.match(empty.rawMessage, /^deployment_id/);
      const unknown = await rejection(openapi().getSpec({ deploymentId: "dep_unknown0000000000000000" }));
      assert.equal(unknown.code, Code.NotFound);
      const foreign = await rejection(app.client(OpenApiService, "globex").getSpec({ deploymentId }));
      assert.equal(foreign.code, Code.NotFound);
      assert.equal(foreign.rawMessage, `deployment ${deploymentId} not found`);
    });

    it("GetDiff: empty, unknown, another tenant's, and deployments of two projects", async () => {
      const empty = await rejection(openapi().getDiff({ oldDeploymentId: deploymentId }));
      assert.equal(empty.code, Code.InvalidArgument);
      assert.match(empty.rawMessage, /^new_deployment_id/);
      const unknown = await rejection(openapi().getDiff({ oldDeploymentId: "dep_unknown0000000000000000", newDeploymentId: deploymentId }));
      assert.equal(unknown.code, Code.NotFound);
      const foreign = await rejection(app.client(OpenApiService, "globex").getDiff({ oldDeploymentId: deploymentId, newDeploymentId: deploymentId }));
      assert.equal(foreign.code, Code.NotFound);
      const other = await createProject(app);
      const elsewhere = (await deployVariant(other, "v1")).id;
      const crossed = await rejection(openapi().getDiff({ oldDeploymentId: elsewhere, newDeploymentId: deploymentId }));
      assert.equal(crossed.code, Code.InvalidArgument);
      assert.match(crossed.rawMessage, /^old_deployment_id/);
      const alone = await rejection(openapi().getDiff({ newDeploymentId: deploymentId }));
      assert.equal(alone.code, Code.FailedPrecondition, "the first live deployment has nothing to compare with");
    });

    it("UpdateApiSettings: a spec path that is not an absolute path is refused, naming the field, and nothing changes", async () => {
      for (const specPath of ["openapi.yaml", "//attacker.example/openapi.yaml", "/open api.yaml", "/x#frag", `/${"a".repeat(300)}`]) {
        const refused = await rejection(openapi().updateApiSettings({ projectId: fixture.projectId, specPath, breakingChanges: BreakingChangesPolicy.BLOCK }));
        assert.equal(refused.code, Code.InvalidArgument, specPath);
        assert.match(refused.rawMessage, /^spec_path/);
      }
      const bad = await rejection(openapi().updateApiSettings({ projectId: fixture.projectId, breakingChanges: 9 as BreakingChangesPolicy }));
      assert.equal(bad.code, Code.InvalidArgument);
      assert.match(bad.rawMessage, /^breaking_changes/);
      const settings = await openapi().getApiSettings({ projectId: fixture.projectId });
      assert.equal(settings.settings?.specPath, "/openapi.yaml");
      assert.equal(settings.settings?.breakingChanges, BreakingChangesPolicy.WARN, "the default");
      const foreign = await rejection(app.client(OpenApiService, "globex").updateApiSettings({ projectId: fixture.projectId, breakingChanges: BreakingChangesPolicy.ALLOW }));
      assert.equal(foreign.code, Code.NotFound);
      assert.equal((await rejection(app.client(OpenApiService, "globex").getApiSettings({ projectId: fixture.projectId }))).code, Code.NotFound);
    });
  });

  it("GetSpec before the scrape answers NotFound (not scraped yet); once the deployment is ready, the spec", async () => {
    const fixture = await createProject(app);
    const created = await deployHello(app, fixture, { env: { HELLO_OPENAPI: "v1", HELLO_START_DELAY: "1500" } });
    const early = await rejection(openapi().getSpec({ deploymentId: created.id }));
    assert.equal(early.code, Code.NotFound);
    assert.match(early.rawMessage, /not scraped yet/);
    assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
    assert.equal((await openapi().getSpec({ deploymentId: created.id })).spec, specFile("v1"));
    assert.ok((await app.client(DeployService, "acme").getDeployment({ deploymentId: created.id })).deployment?.isLive);
  });
});
