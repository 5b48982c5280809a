// Bad input to DeployService gets the right code, a message naming the field, no SQL or stack
// trace — and nothing is written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { DeployService, type CreateDeploymentRequest } from "../../src/gen/ctrl/v1/deploy_pb.js";

/** The fields a bad CreateDeployment request overrides. */
interface Override {
  workspaceId?: string;
  projectId?: string;
  environment?: string;
  source?: CreateDeploymentRequest["source"];
  idempotencyKey?: string;
}
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

const TABLES = ["workspaces", "projects", "environments", "deployments", "deployment_steps", "routes", "gateway_configs", "changes", "events", "operations"];

async function rowCounts(app: App): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const result = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(app.db);
    counts[table] = Number(result.rows[0]!.n);
  }
  return counts;
}

describe("bad input to DeployService", () => {
  let app: App;
  let mine: ProjectFixture;
  let theirs: ProjectFixture;
  let theirDeployment: string;
  before(async () => {
    app = await startApp();
    mine = await createProject(app, "acme");
    theirs = await createProject(app, "globex");
    theirDeployment = (await deploy(app, theirs)).id;
  });
  after(async () => {
    await app?.stop();
  });

  it("answers each bad request with its code and field, writing nothing", async () => {
    const client = app.client(DeployService);
    const image = (over: Partial<{ image: string; port: number; env: Record<string, string>; command: string[] }> = {}) =>
      ({ case: "image", value: { image: "registry.example.com/web:1", port: 8080, env: {}, command: [], ...over } }) as CreateDeploymentRequest["source"];
    const create = (over: Override) =>
      client.createDeployment({ workspaceId: mine.workspaceId, projectId: mine.projectId, environment: "production", source: image(), ...over });
    const huge = "x".repeat(10_000);
    const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
      ["empty workspace slug", () => client.createWorkspace({ slug: "", name: "x" }), Code.InvalidArgument, /^slug/],
      ["uppercase slug", () => client.createWorkspace({ slug: "Acme", name: "x" }), Code.InvalidArgument, /^slug/],
      ["slug with a trailing hyphen", () => client.createWorkspace({ slug: "acme-", name: "x" }), Code.InvalidArgument, /^slug/],
      ["slug of 41 characters", () => client.createWorkspace({ slug: "a".repeat(41), name: "x" }), Code.InvalidArgument, /^slug/],
      ["name of 10 KB", () => client.createWorkspace({ slug: "bigname", name: huge }), Code.InvalidArgument, /^name/],
      ["taken workspace slug (another tenant's)", () => client.createWorkspace({ slug: theirs.workspaceSlug, name: "x" }), Code.AlreadyExists, /^slug/],
      ["empty workspace_id", () => client.getWorkspace({ workspaceId: "" }), Code.InvalidArgument, /^workspace_id/],
      ["malformed workspace_id", () => client.getWorkspace({ workspaceId: "ws 1; DROP TABLE" }), Code.InvalidArgument, /^workspace_id/],
      ["unknown workspace", () => client.getWorkspace({ workspaceId: "ws_01jdoesnotexist0000000000" }), Code.NotFound, /workspace/],
      ["another tenant's workspace", () => client.getWorkspace({ workspaceId: theirs.workspaceId }), Code.NotFound, /workspace/],
      ["project in another tenant's workspace", () => client.createProject({ workspaceId: theirs.workspaceId, slug: "sneaky" }), Code.NotFound, /workspace/],
      ["another tenant's project", () => client.getProject({ projectId: theirs.projectId }), Code.NotFound, /project/],
      ["environment in another tenant's project", () => client.createEnvironment({ projectId: theirs.projectId, slug: "staging" }), Code.NotFound, /project/],
      ["bad environment slug", () => client.createEnvironment({ projectId: mine.projectId, slug: "Stag ing" }), Code.InvalidArgument, /^slug/],
      ["duplicate environment", () => client.createEnvironment({ projectId: mine.projectId, slug: "production" }), Code.AlreadyExists, /^slug/],
      ["deployment without source", () => create({ source: { case: undefined } }), Code.InvalidArgument, /^source/],
      ["deployment without environment", () => create({ environment: "" }), Code.InvalidArgument, /^environment/],
      ["deployment in another tenant's project", () => create({ workspaceId: theirs.workspaceId, projectId: theirs.projectId }), Code.NotFound, /workspace/],
      ["deployment mixing my workspace and their project", () => create({ projectId: theirs.projectId }), Code.NotFound, /project/],
      ["unknown environment", () => create({ environment: "staging" }), Code.NotFound, /environment/],
      ["uppercase image", () => create({ source: image({ image: "UPPER/case" }) }), Code.InvalidArgument, /^image\.image/],
      ["image with a space", () => create({ source: image({ image: "a b" }) }), Code.InvalidArgument, /^image\.image/],
      ["image with only a tag", () => create({ source: image({ image: ":tag" }) }), Code.InvalidArgument, /^image\.image/],
      ["short digest", () => create({ source: image({ image: "x@sha256:123" }) }), Code.InvalidArgument, /^image\.image/],
      ["absurd port", () => create({ source: image({ port: 70_000 }) }), Code.InvalidArgument, /^image\.port/],
      ["env key starting with a digit", () => create({ source: image({ env: { "1BAD": "x" } }) }), Code.InvalidArgument, /^image\.env/],
      ["300 env keys", () => create({ source: image({ env: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`K${i}`, "v"])) }) }), Code.InvalidArgument, /^image\.env/],
      ["100 command arguments", () => create({ source: image({ command: Array.from({ length: 100 }, () => "arg") }) }), Code.InvalidArgument, /^image\.command/],
      ["git sha that is not hex", () => create({ source: { case: "git", value: { sha: "not-a-sha", branch: "main", repository: "acme/web", message: "", author: "", port: 0, env: {} } } as CreateDeploymentRequest["source"] }), Code.InvalidArgument, /^git\.sha/],
      ["git branch with ..", () => create({ source: { case: "git", value: { sha: "abcdef1", branch: "a..b", repository: "acme/web", message: "", author: "", port: 0, env: {} } } as CreateDeploymentRequest["source"] }), Code.InvalidArgument, /^git\.branch/],
      ["idempotency key with spaces", () => create({ idempotencyKey: "has spaces" }), Code.InvalidArgument, /^idempotency_key/],
      ["empty deployment_id", () => client.getDeployment({ deploymentId: "" }), Code.InvalidArgument, /^deployment_id/],
      ["another tenant's deployment", () => client.getDeployment({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["cancel another tenant's deployment", () => client.cancelDeployment({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["promote another tenant's deployment", () => client.promote({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["list with a forged page token", () => client.listDeployments({ projectId: mine.projectId, pageToken: "bm90LWEtdG9rZW4" }), Code.InvalidArgument, /^page_token/],
      ["list with a negative page size", () => client.listDeployments({ projectId: mine.projectId, pageSize: -1 }), Code.InvalidArgument, /^page_size/],
      ["list another tenant's project", () => client.listDeployments({ projectId: theirs.projectId }), Code.NotFound, /project/],
    ];
    assert.ok(cases.length >= 25);
    const before = await rowCounts(app);
    for (const [name, call, code, field] of cases) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.ok(error, `${name}: expected ${Code[code]}, got success`);
      assert.equal(Code[error.code], Code[code], `${name}: ${error.rawMessage}`);
      assert.match(error.rawMessage, field, `${name}: message names the field`);
      assert.doesNotMatch(error.rawMessage, /\bSQL\b|ER_|\n\s+at |select |insert /i, `${name}: no SQL or stack trace`);
    }
    assert.deepEqual(await rowCounts(app), before, "nothing was written");
  });

  it("pages through deployments without duplicates or gaps, and rejects a token reused with other filters", async () => {
    const project = await createProject(app, "acme", [], { workspaceId: mine.workspaceId, workspaceSlug: mine.workspaceSlug });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await deploy(app, project, { report: "none", wait: false, environment: "production" })).id);
    const client = app.client(DeployService);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await client.listDeployments({ projectId: project.projectId, pageSize: 3, pageToken });
      seen.push(...page.deployments.map((d) => d.id));
      pageToken = page.nextPageToken;
      pages++;
      if (pages === 1) {
        await assert.rejects(client.listDeployments({ projectId: project.projectId, pageSize: 3, pageToken, branch: "other" }), /page_token/);
      }
    } while (pageToken && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse(), "newest first, each once");
    for (const id of ids) await client.cancelDeployment({ deploymentId: id });
  });
});
