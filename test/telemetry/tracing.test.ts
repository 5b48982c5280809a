// Tracing end to end: switchyard serve and restate-server export OTLP/HTTP (JSON) to a receiver
// in the test. One promote through the Connect API is one trace: the RPC's server span, the
// ingress call, restate-server's invocation spans (it carries the traceparent of the ingress call
// into the invocation — only while its own tracing is on), the SDK's attempt spans, the swap's
// ctx.run and its MySQL queries, all with the RPC's trace id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { LiveChangeOutcome } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlpReceiver.js";
import { until } from "../support/until.js";

describe("tracing: one promote is one trace", () => {
  let receiver: OtlpReceiver;
  let app: App;
  let agent: Agent;
  before(async () => {
    receiver = await startOtlpReceiver();
    app = await startApp({
      restate: { env: { RESTATE_TRACING_ENDPOINT: receiver.restateEndpoint } },
      env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_LOG_LEVEL: "info", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
    await receiver?.close();
  });

  it("Promote: RPC span → Restate invocation → the swap's ctx.run → MySQL, one trace id; the request log line carries it", async () => {
    const fixture = await createProject(app);
    const v1 = await deployHello(app, fixture);
    assert.equal((await waitForStatus(app, "acme", v1.id, 30_000)).status, DeploymentStatus.READY);
    const v2 = await deployHello(app, fixture);
    assert.equal((await waitForStatus(app, "acme", v2.id, 30_000)).status, DeploymentStatus.READY);
    const requestId = "trace-test-promote-1";
    const promoted = await app.client(DeployService).promote({ deploymentId: v1.id }, { headers: { "x-request-id": requestId } });
    assert.equal(promoted.state?.outcome, LiveChangeOutcome.PROMOTED);

    const rpc = await until("the Promote RPC's span", () => receiver.spans.find((s) => s.name === "ctrl.v1.DeployService/Promote"), 10_000);
    assert.equal(rpc.kind, 2, "a server span");
    assert.equal(rpc.service, "switchyard");
    const inTrace = () => receiver.spans.filter((s) => s.traceId === rpc.traceId);
    const swapRun = await until("the swap's ctx.run span in the RPC's trace", () => inTrace().find((s) => s.name === "run (swap live (promote))"), 10_000);
    const attempt = inTrace().find((s) => s.spanId === swapRun.parentSpanId);
    assert.ok(attempt, "the run's parent, an invocation attempt of the Project object, is in the trace");
    assert.match(attempt.name, new RegExp(`^attempt Project/${fixture.projectId}/`));
    assert.equal(attempt.attributes["restate.run.name"], undefined);
    assert.match(String(attempt.attributes["restate.invocation.id"]), /^inv_/);
    // A target that runs is swapped by one invocation: the exclusive Project.promote, no changeLive.
    const invocation = inTrace().find((s) => s.attributes["restate.invocation.target"] === `Project/${fixture.projectId}/promote`);
    assert.ok(invocation, "the invocation the RPC started through the ingress (Project.promote) is in the trace");
    assert.notEqual(invocation.parentSpanId, "", "its parent is the traceparent restate-server sent");
    const mysqlUnderSwap = await until(
      "a MySQL query span under the swap",
      () => inTrace().find((s) => s.parentSpanId === swapRun.spanId && s.attributes["db.system.name"] === "mysql"),
      10_000,
    );
    assert.ok(mysqlUnderSwap.name.length > 0);
    assert.ok(
      inTrace().some((s) => s.parentSpanId === rpc.spanId && s.attributes["db.system.name"] === "mysql"),
      "the RPC's own precheck query is a child of the RPC span",
    );
    // The ingress call leaves switchyard as an undici client span; restate-server (exporting to
    // the same receiver) continues the trace: its ingress span under that call, its attempt span
    // the parent of the SDK's attempt span.
    const ingressCall = inTrace().find((s) => s.kind === 3 && s.parentSpanId === rpc.spanId && s.name === "POST");
    assert.ok(ingressCall, "an HTTP client span (the ingress call) under the RPC");
    const restateIngress = await until("restate-server's ingress span", () => inTrace().find((s) => s.service === "Restate" && s.parentSpanId === ingressCall.spanId), 10_000);
    assert.match(restateIngress.name, /^ingress Project\/\{key\}\/promote$/);
    const restateAttempt = await until("restate-server's attempt span", () => inTrace().find((s) => s.spanId === invocation.parentSpanId), 10_000);
    assert.equal(restateAttempt.service, "Restate");
    assert.match(restateAttempt.name, /^invocation-attempt Project/);

    const line = app.switchyard
      .logs(5000)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.requestId === requestId);
    assert.equal(line?.traceId, rpc.traceId, "the RPC's log line names its trace");
  });
});
