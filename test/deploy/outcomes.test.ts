// How a deployment's Restate invocation ends, as an operator sees it in the Restate UI: a ready
// deployment succeeded and leaves no timer behind; a failed one fails with its reason (after its
// compensations ran and the row says failed); a cancelled one ends cancelled; instances that never
// report fail it at the ready timeout.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { queryAdmin } from "../../src/restate/admin.js";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, reportInstances, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

const READY_TIMEOUT_S = 5;

interface Invocation {
  status: string;
  completion_result: string | null;
  completion_failure: string | null;
}

describe("deployment outcomes in the Restate UI", () => {
  let app: App;
  let fixture: ProjectFixture;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_INSTANCE_READY_TIMEOUT: `${READY_TIMEOUT_S}s`, SWITCHYARD_STANDBY_GRACE: "1h" } });
    fixture = await createProject(app);
  });
  after(async () => {
    await app?.stop();
  });

  const admin = <Row>(query: string) => queryAdmin<Row>(app.stack.restate.adminUrl, query);

  /** The deployment's workflow invocation, once Restate says it completed. */
  async function completedRun(deploymentId: string): Promise<Invocation> {
    const row = await app.db.selectFrom("deployments").select("invocation_id").where("id", "=", deploymentId).executeTakeFirstOrThrow();
    assert.ok(row.invocation_id, "the invocation id is recorded");
    return until(`the invocation of ${deploymentId} to complete`, async () => {
      const [invocation] = await admin<Invocation>(`SELECT status, completion_result, completion_failure FROM sys_invocation WHERE id = '${row.invocation_id}'`);
      return invocation?.status === "completed" ? invocation : undefined;
    });
  }

  /**
   * Sleeps never woken (a Sleep command without its Sleep notification — the UI's "Wakes up in
   * …") and calls not completed, of any invocation of this deployment.
   */
  async function leftovers(deploymentId: string): Promise<string[]> {
    const entries = await admin<{ entry_type: string; target: string }>(
      `SELECT j.entry_type, i.target FROM sys_journal j JOIN sys_invocation i ON i.id = j.id WHERE i.target_service_name = 'Deployment' AND i.target_service_key = '${deploymentId}' AND j.entry_type IN ('Command: Sleep', 'Notification: Sleep')`,
    );
    const count = (type: string) => entries.filter((e) => e.entry_type === type).length;
    const unwoken = count("Command: Sleep") - count("Notification: Sleep");
    const running = await admin<{ target: string; status: string }>(
      `SELECT target, status FROM sys_invocation WHERE target_service_name = 'Deployment' AND target_service_key = '${deploymentId}' AND status <> 'completed'`,
    );
    return [...(unwoken > 0 ? [`${unwoken} sleep(s) never woken`] : []), ...running.map((s) => `${s.target} ${s.status}`)];
  }

  /** Leftovers may take a moment to go (a cancellation is processed after the run ended). */
  async function assertNothingLeft(deploymentId: string) {
    let left: string[] = [];
    await until("nothing left of the deployment in Restate", async () => (left = await leftovers(deploymentId)).length === 0, 10_000).catch(() => undefined);
    assert.deepEqual(left, [], "no timer or call left behind");
  }

  const awaitingInstances = (deploymentId: string) =>
    until("the deployment to wait for its instances", async () => {
      const row = await app.db.selectFrom("deployments").select("awakeable_id").where("id", "=", deploymentId).executeTakeFirst();
      return row?.awakeable_id ? true : undefined;
    });

  it("a ready deployment succeeded and leaves no ready-timeout timer behind", async () => {
    const created = await deploy(app, fixture, { report: "none", wait: false });
    await awaitingInstances(created.id);
    await reportInstances(app, "acme", created.id);
    assert.equal((await waitForStatus(app, "acme", created.id)).status, DeploymentStatus.READY);
    const run = await completedRun(created.id);
    assert.equal(run.completion_result, "success", run.completion_failure ?? "");
    await assertNothingLeft(created.id);
  });

  it("a failed deployment fails its invocation with the reason, after the row says failed", async () => {
    const key = `outcome-${Date.now()}`;
    const failed = await deploy(app, fixture, { report: "failed", idempotencyKey: key });
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /instances failed: region local: container exited with code 1/);
    const run = await completedRun(failed.id);
    assert.equal(run.completion_result, "failure");
    assert.match(run.completion_failure ?? "", /instances failed: region local: container exited with code 1/);
    // The pipeline's retry with the same key still answers with that deployment.
    const again = await app.client(DeployService).createDeployment({
      workspaceId: fixture.workspaceId,
      projectId: fixture.projectId,
      environment: "production",
      source: { case: "image", value: { image: "registry.example.com/web:1.0.0", port: 8080 } },
      idempotencyKey: key,
    });
    assert.deepEqual([again.deployment?.id, again.deployment?.status], [failed.id, DeploymentStatus.FAILED]);
    await assertNothingLeft(failed.id);
  });

  it("instances that never report fail the deployment at the ready timeout", async () => {
    const created = await deploy(app, fixture, { report: "none", wait: false });
    const done = await waitForStatus(app, "acme", created.id, (READY_TIMEOUT_S + 30) * 1000);
    assert.equal(done.status, DeploymentStatus.FAILED);
    assert.equal(done.errorMessage, `instances did not report running within ${READY_TIMEOUT_S} s`);
    const run = await completedRun(created.id);
    assert.equal(run.completion_result, "failure");
    assert.match(run.completion_failure ?? "", new RegExp(`instances did not report running within ${READY_TIMEOUT_S} s`));
    await assertNothingLeft(created.id);
  });

  it("a cancelled deployment ends its invocation cancelled", async () => {
    const created = await deploy(app, fixture, { report: "none", wait: false });
    await awaitingInstances(created.id);
    const cancelled = await app.client(DeployService).cancelDeployment({ deploymentId: created.id });
    assert.equal(cancelled.deployment?.status, DeploymentStatus.CANCELLED);
    const run = await completedRun(created.id);
    assert.equal(run.completion_result, "failure");
    assert.match(run.completion_failure ?? "", /cancel/i);
    await assertNothingLeft(created.id);
  });
});
