// While MySQL restarts, every RPC answers Unavailable — the code a pipeline retries on (the
// README says so) — never Internal, and without SQL or driver detail; streams opened before the
// outage end with Unavailable too. Once the database is back, the same calls work.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

describe("while MySQL restarts", () => {
  let app: App;
  let fixture: ProjectFixture;
  let deploymentId: string;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    fixture = await createProject(app);
    deploymentId = (await deploy(app, fixture)).id;
  });
  after(async () => {
    await app?.stop();
  });

  let workspaces = 0;
  const deployService = () => app.client(DeployService);
  const network = () => app.client(NetworkService);
  const calls: Record<string, () => Promise<unknown>> = {
    CreateDeployment: () =>
      deployService().createDeployment({
        workspaceId: fixture.workspaceId,
        projectId: fixture.projectId,
        environment: "production",
        source: { case: "image", value: { image: "registry.example.com/web:2.0.0", port: 8080 } },
        idempotencyKey: "during-the-restart",
      }),
    GetDeployment: () => deployService().getDeployment({ deploymentId }),
    ListDeployments: () => deployService().listDeployments({ projectId: fixture.projectId }),
    CreateWorkspace: () => deployService().createWorkspace({ slug: `outage-${++workspaces}`, name: "Outage" }),
    Promote: () => deployService().promote({ deploymentId }),
    ListDomains: () => network().listDomains({ workspaceId: fixture.workspaceId }),
  };

  /** The Connect error a call ends with, or undefined when it succeeds. */
  const outcome = (call: () => Promise<unknown>) => call().then(() => undefined, (error: unknown) => ConnectError.from(error));

  it("answers Unavailable from every RPC while the database is down, and works again after", async () => {
    // A stream opened before the outage.
    const abort = new AbortController();
    const streamEnd = (async () => {
      try {
        for await (const _ of network().watchEvents({ workspaceId: fixture.workspaceId }, { signal: abort.signal })) {
          // no event is expected; the stream only has to end the right way
        }
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
    try {
      await app.stack.mariadb.kill();
      for (const [name, call] of Object.entries(calls)) {
        const error = await outcome(call);
        assert.equal(error?.code, Code.Unavailable, `${name}: ${error ? `${Code[error.code]} ${error.rawMessage}` : "succeeded"}`);
        assert.equal(error?.rawMessage, "the database is unavailable; retry with the same idempotency key", name);
      }
      const streamError = await streamEnd;
      assert.equal(streamError?.code, Code.Unavailable, `WatchEvents: ${streamError?.rawMessage}`);
    } finally {
      abort.abort();
      await app.stack.mariadb.restart();
    }

    await until("CreateDeployment to work again", async () => (await outcome(calls.CreateDeployment!)) === undefined, 30_000, 200);
    for (const [name, call] of Object.entries(calls)) {
      const error = await outcome(call);
      // Promote of the live deployment is refused by its gate: the database answered.
      if (name === "Promote") assert.equal(error?.code, Code.FailedPrecondition, error?.rawMessage);
      else assert.equal(error, undefined, `${name}: ${error?.rawMessage}`);
    }
  });

  it("fails calls made across a kill and restart only with Unavailable", async () => {
    const codes = new Map<string, number>();
    let running = true;
    const caller = (async () => {
      while (running) {
        for (const call of Object.values(calls)) {
          const error = await outcome(call);
          const code = error ? Code[error.code]! : "OK";
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
    })();
    try {
      await until("calls to succeed before the outage", () => (codes.get("OK") ?? 0) > 0);
      await app.stack.mariadb.kill();
      await until("calls to fail during the outage", () => (codes.get("Unavailable") ?? 0) > 0);
      await app.stack.mariadb.restart();
      const okBefore = codes.get("OK") ?? 0;
      await until("calls to succeed after the restart", () => (codes.get("OK") ?? 0) > okBefore + 3, 30_000);
    } finally {
      running = false;
      await caller;
    }
    // Promote of the live deployment answers FailedPrecondition whenever the database is up.
    assert.deepEqual([...codes.keys()].sort(), ["FailedPrecondition", "OK", "Unavailable"], JSON.stringify(Object.fromEntries(codes)));
  });
});
