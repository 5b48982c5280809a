// `switchyard openapi get|diff|settings`, `deploy --wait`'s spec summary and `promote
// --allow-breaking-changes`, as a pipeline runs them, against the real stack and agent.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { repoRoot, startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { runCli, type CliRun } from "../support/cli.js";

describe("the openapi CLI", () => {
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

  it("settings block → deploy --wait prints the diff summary and stays not live; diff exits 1 on breaking changes; get prints the spec; promote needs --allow-breaking-changes", async () => {
    const ws = (await ok(["workspaces", "create", `api-${randomBytes(3).toString("hex")}`, "--quiet"])).trim();
    const project = (await ok(["projects", "create", "hello", "--workspace", ws, "--quiet"])).trim();
    assert.match(await ok(["openapi", "settings", project]), /breaking changes\s+warn/);
    assert.match(await ok(["openapi", "settings", project, "--breaking-changes", "block"]), /breaking changes\s+block/);
    const deploy = (variant: string) =>
      ok(["deploy", "--workspace", ws, "--project", project, "--env", "production", "--image", "hello:1.0.0", "--env-var", `HELLO_OPENAPI=${variant}`, "--force-new", "--command", "node", path.join(repoRoot, "examples", "hello", "server.js"), "--wait"]);
    const idOf = (output: string) => /^deployment (dep_\w+)$/m.exec(output)![1]!;

    const first = await deploy("v1");
    const v1 = idOf(first);
    assert.match(first, /ready and live/);
    assert.match(first, /^openapi: no earlier live deployment to compare with$/m);

    const second = await deploy("v2");
    const v2 = idOf(second);
    assert.match(second, /^ready$/m, "block keeps it from going live");
    assert.match(second, new RegExp(`^openapi: 5 change\\(s\\) \\(2 breaking, 1 warning, 2 info\\) against ${v1}$`, "m"));
    assert.match(second, /^ {2}breaking: GET \/legacy: api path removed without deprecation \[api-path-removed-without-deprecation\]$/m);
    assert.match(second, /^ {2}breaking: GET \/: added the new required `query` request parameter `lang`/m);
    assert.match(second, new RegExp(`^not live: the project's breaking-changes policy is block; to go live: switchyard promote ${v2} --allow-breaking-changes$`, "m"));

    const diff = await cli(["openapi", "diff", v1, v2]);
    assert.equal(diff.code, 1, "breaking changes: exit 1");
    assert.match(diff.stdout, /^LEVEL\s+OPERATION\s+CHANGE\s+ID$/m);
    assert.match(diff.stdout, /^breaking\s+GET \/legacy\s+api path removed without deprecation\s+api-path-removed-without-deprecation$/m);
    assert.match(diff.stdout, /^info\s+GET \/\s+added the optional property `greeting`/m);
    const json = await cli(["openapi", "diff", v2, "--json"]);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as { hasBreakingChanges: boolean; oldDeploymentId: string; changes: { id: string; level: string }[] };
    assert.equal(parsed.hasBreakingChanges, true);
    assert.equal(parsed.oldDeploymentId, v1, "v1 is live: the baseline");
    assert.ok(parsed.changes.some((c) => c.level === "SPEC_CHANGE_LEVEL_WARNING"));
    const same = await cli(["openapi", "diff", v1, v1]);
    assert.equal(same.code, 0);
    assert.match(same.stdout, /no changes/);

    assert.equal(await ok(["openapi", "get", v1]), fs.readFileSync(path.join(repoRoot, "examples", "hello", "openapi", "v1.yaml"), "utf8"));
    const meta = JSON.parse(await ok(["openapi", "get", v2, "--json"])) as { hash: string; contentType: string };
    assert.match(meta.hash, /^[0-9a-f]{64}$/);
    assert.equal(meta.contentType, "application/yaml");

    const refused = await cli(["promote", v2]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: failed_precondition: deployment dep_\w+ has 2 breaking API change\(s\)/);
    const promoted = await cli(["promote", v2, "--allow-breaking-changes"]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, new RegExp(`^promoted: ${v2} is live \\(was ${v1}\\)$`, "m"));
    assert.match(promoted.stderr, /^warning: breaking API change: GET \/legacy: /m);

    const usage = await cli(["openapi", "settings", project, "--breaking-changes", "sometimes"]);
    assert.equal(usage.code, 2);
    const badPath = await cli(["openapi", "settings", project, "--spec-path", "openapi.yaml"]);
    assert.equal(badPath.code, 1);
    assert.match(badPath.stderr, /^error: invalid_argument: spec_path: must be an absolute path/);
  });
});
