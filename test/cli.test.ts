// The pipeline CLI as a child process against the real stack.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startApp, type App } from "./support/app.js";
import { runCli, type CliRun } from "./support/cli.js";
import { createProject, reportInstances, waitForStatus, type ProjectFixture } from "./support/fixtures.js";
import { until } from "./support/until.js";

function cli(app: App, args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, { SWITCHYARD_URL: app.switchyard.url, SWITCHYARD_TOKEN: app.tokens.acme, GITHUB_RUN_ID: "", ...env });
}

describe("switchyard CLI", () => {
  let app: App;
  let fixture: ProjectFixture;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    fixture = await createProject(app);
  });
  after(async () => {
    await app?.stop();
  });

  const deployArgs = (image: string) => ["deploy", "--workspace", fixture.workspaceId, "--project", fixture.projectId, "--env", "production", "--image", image, "--port", "8080", "--git-sha", "abcdef1234567", "--branch", "main"];

  it("deploys, and a retried deploy with the same inputs returns the same deployment", async () => {
    const first = await cli(app, [...deployArgs("registry.example.com/web:1"), "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const created = JSON.parse(first.stdout) as { id: string; status: string };
    assert.equal(created.status, "DEPLOYMENT_STATUS_PENDING");
    const retried = await cli(app, [...deployArgs("registry.example.com/web:1"), "--json"]);
    assert.equal((JSON.parse(retried.stdout) as { id: string }).id, created.id, "idempotent retry");
    await reportInstances(app, "acme", created.id);
    await waitForStatus(app, "acme", created.id);
    const got = await cli(app, ["deployments", "get", created.id]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /ready, live/);
    assert.match(got.stdout, /network\s+succeeded/);
  });

  /** `deploy … --wait` as a pipeline runs it, with this test playing the agent for the new deployment. */
  async function deployAndWait(project: ProjectFixture, image: string): Promise<{ run: CliRun; id: string }> {
    const args = ["deploy", "--workspace", project.workspaceId, "--project", project.projectId, "--env", "production", "--image", image, "--port", "8080", "--wait", "--timeout", "60s"];
    const running = cli(app, args);
    const id = await until("the deployment to be created", async () => {
      const row = await app.db.selectFrom("deployments").select("id").where("project_id", "=", project.projectId).where("image", "=", image).executeTakeFirst();
      return row?.id;
    }, 30_000, 100);
    await reportInstances(app, "acme", id);
    return { run: await running, id };
  }

  it("follows a deployment phase by phase with --wait", async () => {
    const { run } = await deployAndWait(fixture, "registry.example.com/web:2");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /- build skipped/);
    assert.match(run.stdout, /✓ deploy/);
    assert.match(run.stdout, /✓ network/);
    assert.match(run.stdout, /ready and live/);
  });

  it("promotes and rolls back, and reports a refused rollback with the server's message", async () => {
    const list = await cli(app, ["deployments", "list", "--project", fixture.projectId, "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const deployments = (JSON.parse(list.stdout) as { deployments: { id: string; isLive?: boolean }[] }).deployments;
    assert.equal(deployments.length, 2);
    const live = deployments.find((d) => d.isLive)!;
    const earlier = deployments.find((d) => !d.isLive)!;

    const refused = await cli(app, ["rollback", live.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /failed_precondition: .*already live/);

    const rolled = await cli(app, ["rollback", earlier.id, "--expected-live", live.id]);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /rolled back: .* is live/);
    const promoted = await cli(app, ["promote", live.id, "--json"]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal((JSON.parse(promoted.stdout) as { liveDeploymentId: string }).liveDeploymentId, live.id);

    const table = await cli(app, ["deployments", "list", "--project", fixture.projectId]);
    assert.match(table.stdout, /^ID\s+ENV\s+STATUS/m);
  });

  it("fails clearly without a token or with bad input", async () => {
    const noToken = await cli(app, ["deployments", "list", "--project", fixture.projectId], { SWITCHYARD_TOKEN: "" });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /SWITCHYARD_TOKEN/);
    const badToken = await cli(app, ["deployments", "list", "--project", fixture.projectId], { SWITCHYARD_TOKEN: "x".repeat(40) });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /unauthenticated/);
    const badImage = await cli(app, deployArgs("UPPER/Case"));
    assert.equal(badImage.code, 1);
    assert.match(badImage.stderr, /invalid_argument: image\.image/);
    assert.doesNotMatch(badImage.stderr, /\n\s+at /, "no stack trace");
  });
  it("claims a domain, prints the DNS records to create, lists and removes it", async () => {
    const addArgs = ["domains", "add", "Bücher.example.com", "--workspace", fixture.workspaceId, "--project", fixture.projectId];
    const added = await cli(app, addArgs);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /bücher\.example\.com \(xn--bcher-kva\.example\.com\)\s+pending/);
    assert.match(added.stdout, /^\s+TXT\s+_switchyard-challenge\.xn--bcher-kva\.example\.com\s+switchyard-verification=[0-9a-v]{32}\s+verification$/m);
    assert.match(added.stdout, /^\s+CNAME\s+_acme-challenge\.xn--bcher-kva\.example\.com\s+_acme-challenge\.xn--bcher-kva\.example\.com\.\S+\s+acme delegation \(recommended\)$/m);
    assert.match(added.stdout, /^\s+OwnershipVerified\s+unknown\s+NotCheckedYet/m);
    const id = /^(dom_\w+)/.exec(added.stdout)?.[1];
    assert.ok(id, added.stdout);

    const retried = await cli(app, [...addArgs, "--json"]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal((JSON.parse(retried.stdout) as { domain: { id: string } }).domain.id, id, "a retried add finds its claim");

    const verified = await cli(app, ["domains", "verify", id]);
    assert.equal(verified.code, 1, "exit 1 while the domain is not verified");
    assert.match(verified.stdout, /^\s+OwnershipVerified\s+(false|unknown)\s+/m);

    const listed = await cli(app, ["domains", "list", "--workspace", fixture.workspaceId]);
    assert.match(listed.stdout, new RegExp(`^${id}\\s+bücher\\.example\\.com\\s+pending`, "m"));
    const removed = await cli(app, ["domains", "remove", id]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /xn--bcher-kva\.example\.com removed/);

    const bad = await cli(app, ["domains", "add", "co.uk", "--workspace", fixture.workspaceId, "--project", fixture.projectId]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid_argument: hostname: is a public suffix/);
  });

  it("runs the README's pipeline: deploy goes live, rollback, the fix deployed ready but not live, promote", async () => {
    const project = await createProject(app);
    const previous = await deployAndWait(project, "registry.example.com/shop:1.4.1");
    const broken = await deployAndWait(project, "registry.example.com/shop:1.4.2");
    assert.match(broken.run.stdout, /ready and live/, broken.run.stderr);
    const rollback = ["rollback", previous.id, "--expected-live", broken.id];
    const rolled = await cli(app, rollback);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /^rolled back: .* is live/);
    const fix = await deployAndWait(project, "registry.example.com/shop:1.4.3");
    assert.equal(fix.run.code, 0, fix.run.stderr);
    assert.match(fix.run.stdout, /^ready$/m, "ready, not live, while the project is rolled back");
    const promoted = await cli(app, ["promote", fix.id]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, new RegExp(`^promoted: ${fix.id} is live \\(was ${previous.id}\\)`));

    // A retried step sends the same derived key and gets the first answer, not "already live".
    const promotedAgain = await cli(app, ["promote", fix.id]);
    assert.deepEqual([promotedAgain.code, promotedAgain.stdout], [0, promoted.stdout], promotedAgain.stderr);
    const rolledAgain = await cli(app, rollback);
    assert.deepEqual([rolledAgain.code, rolledAgain.stdout], [0, rolled.stdout], rolledAgain.stderr);
    const live = await app.db.selectFrom("projects").select(["live_deployment_id", "is_rolled_back"]).where("id", "=", project.projectId).executeTakeFirstOrThrow();
    assert.deepEqual(live, { live_deployment_id: fix.id, is_rolled_back: false }, "the retried rollback changed nothing");
    // In another CI run the same arguments are a new request.
    const otherRun = await cli(app, ["promote", fix.id], { GITHUB_RUN_ID: "run-2" });
    assert.equal(otherRun.code, 1);
    assert.match(otherRun.stderr, /failed_precondition: .*already live/);
  });

  it("exits 2 on a usage mistake, as --help says, and 0 for --help", async () => {
    for (const args of [["nope"], ["promote"], ["deploy", "--workspace", "ws_x"], ["deployments", "list", "--bogus"]]) {
      const run = await cli(app, args);
      assert.equal(run.code, 2, `switchyard ${args.join(" ")}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
    }
    const help = await cli(app, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /2 usage error/);
  });
});
