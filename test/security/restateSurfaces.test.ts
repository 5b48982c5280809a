// private-internals and no-poison, on the real restate-server: handlers the Connect API does not
// call are refused through the ingress but still callable from other handlers; the endpoint
// serves only requests signed by restate-server; a malformed invocation ends at once instead of
// holding a project's lock; a failure that cannot heal ends after a bounded number of attempts.
import "../../src/polyfill.js";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import * as restate from "@restatedev/restate-sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { projectApi } from "../../workflows/handles.js";
import { serveBenchServices } from "../../bench/lib/endpoint.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { invocationsOf } from "../support/restateQuery.js";
import { until } from "../support/until.js";

/** Status of an unsigned h2c request to the endpoint's discovery path. */
function unsignedDiscovery(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const request = session.request({ ":method": "GET", ":path": "/discover", accept: "application/vnd.restate.endpointmanifest.v3+json" });
    request.on("response", (headers) => {
      resolve(Number(headers[":status"]));
      session.close();
    });
    request.on("error", reject);
    request.end();
  });
}

/** A handler of our own that calls into the Project object, as the Certificate object does. */
const caller = restate.service({
  name: "SurfaceTestCaller",
  handlers: {
    refresh: async (ctx: restate.Context, req: { projectId: string; body: unknown }): Promise<{ ok: true } | { terminal: string }> => {
      try {
        await ctx.objectClient(projectApi, req.projectId).refreshGatewayConfigs(req.body as { hostnames: string[] });
        return { ok: true };
      } catch (error) {
        if (error instanceof restate.TerminalError) return { terminal: error.message };
        throw error;
      }
    },
  },
});

describe("restate surfaces", () => {
  let app: App;
  let fixture: ProjectFixture;
  let first: string;
  let second: string;
  let callerEndpoint: { close(): void } | undefined;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_RESTATE_MAX_ATTEMPTS: "4", SWITCHYARD_RESTATE_RETRY_INTERVAL: "100ms" } });
    fixture = await createProject(app, "acme");
    first = (await deploy(app, fixture)).id;
    second = (await deploy(app, fixture)).id;
    callerEndpoint = await serveBenchServices(app.stack.restate.adminUrl, [caller]);
  });
  after(async () => {
    callerEndpoint?.close();
    await app?.stop();
  });

  const ingressPost = (path: string, body: unknown) =>
    fetch(`${app.stack.restate.ingressUrl}/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  const promoteWithin = (deploymentId: string, timeoutMs: number) => app.client(DeployService).promote({ deploymentId }, { timeoutMs });

  it("refuses every internal handler through the ingress", async () => {
    const internal: [string, unknown][] = [
      [`Project/${fixture.projectId}/refreshGatewayConfigs`, { hostnames: [] }],
      [`Project/${fixture.projectId}/activate`, {}],
      [`Project/${fixture.projectId}/revertDomains`, { deploymentId: first, previous: [] }],
      [`Project/${fixture.projectId}/standby`, { deploymentId: first, token: "x" }],
      [`Project/${fixture.projectId}/withdrawHostnames`, { hostnames: [], reason: "x" }],
      [`Project/${fixture.projectId}/wake`, { deploymentId: first, mode: "promote" }],
      [`Deployment/${first}/instancesTimedOut`, {}],
      ["Domain/dom_x/scheduledCheck", { token: "x" }],
      ["Certificate/x.example.com/renew", { domainId: "dom_x", certificateId: "crt_x" }],
      ["Certificate/x.example.com/warnExpiring", { certificateId: "crt_x", thresholdMs: 1 }],
      ["WebhookEndpoint/whk_x/pump", { token: "x" }],
      ["Retention/feeds/prune", { token: "x" }],
    ];
    for (const [path, body] of internal) {
      const response = await ingressPost(path, body);
      const text = await response.text();
      assert.ok(response.status >= 400 && response.status < 500, `${path}: HTTP ${response.status} ${text}`);
    }
    // The public surface still answers (the Connect API's calls go this way).
    assert.equal((await ingressPost("System/ping", null)).status, 200);
  });

  it("still lets other handlers call an internal handler, and answers bad input from them terminally", async () => {
    const ok = await ingressPost("SurfaceTestCaller/refresh", { projectId: fixture.projectId, body: { hostnames: [] } });
    assert.deepEqual(await ok.json(), { ok: true });
    const poison = await ingressPost("SurfaceTestCaller/refresh", { projectId: fixture.projectId, body: {} });
    const answer = (await poison.json()) as { terminal?: string };
    assert.match(answer.terminal ?? "", /hostnames/, "a malformed input is a terminal error naming the field");
  });

  it("a poison invocation cannot block the next promote of its project", async () => {
    // Malformed calls straight at the object, through the ingress and from another handler.
    await ingressPost(`Project/${fixture.projectId}/refreshGatewayConfigs/send`, {});
    await ingressPost(`Project/${fixture.projectId}/promote/send`, { deploymentId: 42 });
    await ingressPost(`Project/${fixture.projectId}/assignDomains/send`, "garbage");
    await ingressPost("SurfaceTestCaller/refresh/send", { projectId: fixture.projectId, body: { hostnames: "nope" } });
    const promoted = await promoteWithin(first, 15_000);
    assert.equal(promoted.state?.liveDeploymentId, first);
  });

  it("ends a failure that cannot heal after a bounded number of attempts and releases the project", async () => {
    // Every promote of this project now fails on a missing table: a failure no retry heals.
    await sql`RENAME TABLE gateway_configs TO gateway_configs_away`.execute(app.db);
    try {
      const error = await promoteWithin(second, 30_000).then(
        () => assert.fail("the promote succeeded on a broken database"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(Code[error.code], "Internal", error.rawMessage);
      assert.match(error.rawMessage, /stopped/);
      assert.doesNotMatch(error.rawMessage, /gateway_configs|SQL|\n\s+at /, "no detail of the failure leaks");
    } finally {
      await sql`RENAME TABLE gateway_configs_away TO gateway_configs`.execute(app.db);
    }
    const ended = await until("the failed promote to be recorded as ended", async () => {
      const rows = await invocationsOf(app.stack.restate.adminUrl, "Project", "promote", fixture.projectId);
      return rows.find((r) => r.status === "completed" && r.completion_failure) ?? rows.find((r) => r.status === "paused");
    });
    assert.ok(ended, "the invocation ended visibly instead of retrying forever");
    const promoted = await promoteWithin(second, 15_000);
    assert.equal(promoted.state?.liveDeploymentId, second, "the project's lock was released");
  });

  it("serves the endpoint only to restate-server's signed requests", async () => {
    assert.equal(await unsignedDiscovery(Number(app.env.SWITCHYARD_ENDPOINT_PORT)), 401);
  });
});
