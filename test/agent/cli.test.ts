// The README's pipeline, as a newcomer types it: workspaces/projects/environments through the
// CLI, then `deploy … --command … --wait` of the sample app, run by a real agent, and the app
// reached at the address the agent reported — no curl against the API, no manual report.
import assert from "node:assert/strict";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { repoRoot, startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { runCli, type CliRun } from "../support/cli.js";
import { askHello } from "../support/helloApp.js";

describe("the pipeline CLI with an agent", () => {
  let app: App;
  let agent: Agent;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local! });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
  });
  const cli = (args: string[]): Promise<CliRun> => runCli(args, { SWITCHYARD_URL: app.switchyard.url, SWITCHYARD_TOKEN: app.tokens.acme, GITHUB_RUN_ID: "" });
  const ok = async (args: string[]) => {
    const run = await cli(args);
    assert.equal(run.code, 0, `switchyard ${args.join(" ")}: ${run.stderr}`);
    return run.stdout;
  };

  it("workspaces, projects and environments: create (a repeat returns the same), list", async () => {
    const slug = `demo-${randomBytes(3).toString("hex")}`;
    const ws = (await ok(["workspaces", "create", slug, "--quiet"])).trim();
    assert.match(ws, /^ws_[0-9a-z]{26}$/);
    assert.equal((await ok(["workspaces", "create", slug, "--quiet"])).trim(), ws, "creating it again returns it");
    assert.match(await ok(["workspaces", "list"]), new RegExp(`${ws}\\s+${slug}`));
    const project = (await ok(["projects", "create", "hello", "--workspace", ws, "--quiet"])).trim();
    assert.match(project, /^prj_/);
    assert.match(await ok(["projects", "list", "--workspace", ws]), new RegExp(`${project}\\s+hello`));
    assert.match(await ok(["environments", "create", "staging", "--project", project]), /^environment env_\w+ \(staging\)$/m);
    const environments = await ok(["environments", "list", "--project", project]);
    assert.match(environments, /production/);
    assert.match(environments, /staging/);
    const refused = await cli(["projects", "create", "Not A Slug", "--workspace", ws]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: invalid_argument: slug/);
  });

  it("deploy --command … --wait of examples/hello ends ready and live, and the address it reports answers", async () => {
    const ws = (await ok(["workspaces", "create", `demo-${randomBytes(3).toString("hex")}`, "--quiet"])).trim();
    const project = (await ok(["projects", "create", "hello", "--workspace", ws, "--quiet"])).trim();
    const deployArgs = ["deploy", "--workspace", ws, "--project", project, "--env", "production", "--image", "hello:1.0.0", "--env-var", "APP_VERSION=3.1.4", "--command", "node", path.join(repoRoot, "examples", "hello", "server.js")];
    const waited = await ok([...deployArgs, "--wait"]);
    assert.match(waited, /✓ deploy/);
    assert.match(waited, /ready and live/);
    const curl = /try: curl http:\/\/(127\.0\.0\.1:\d+)\//.exec(waited);
    assert.ok(curl, `a curl of the instance in:\n${waited}`);
    assert.equal((await askHello(curl[1]!)).version, "3.1.4");

    // The scriptable form the README shows: ids only, then the running addresses only.
    const id = (await ok([...deployArgs, "--wait", "--quiet"])).trim();
    assert.match(id, /^dep_/);
    const [address] = (await ok(["deployments", "instances", id, "--quiet"])).trim().split("\n");
    assert.equal(address, curl[1], "the same deployment (the retry is idempotent) at the same address");
    assert.match(await ok(["deployments", "get", id]), /replicas 1, health check GET \/[\s\S]*running\s+127\.0\.0\.1:\d+/);
  });
});
