// The request log as an operator reads it: one JSON line per RPC with request id, tenant,
// method, code and duration; a client error at info without a stack; a server error (here one
// injected with SWITCHYARD_FAULT_RPC_ERROR, as a bug would throw it) at error with its stack,
// while the caller gets an opaque Internal naming only the request id.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CtrlService } from "../../src/gen/ctrl/v1/ctrl_pb.js";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startApp, type App } from "../support/app.js";
import { until } from "../support/until.js";

type LogLine = Record<string, unknown> & { level: number; msg: string };

function linesOf(app: App, requestId: string): LogLine[] {
  return app.switchyard
    .logs(5000)
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.requestId === requestId);
}

describe("request log", () => {
  let app: App;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_LOG_LEVEL: "info", SWITCHYARD_FAULT_RPC_ERROR: "ctrl.v1.CtrlService/Version" } });
  });
  after(async () => {
    await app?.stop();
  });

  it("a client error (NotFound) is one info line with request id, tenant, method, code and duration — no stack", async () => {
    const requestId = "log-test-not-found-1";
    const error = await app
      .client(DeployService)
      .getDeployment({ deploymentId: "dep_doesnotexist000000000000" }, { headers: { "x-request-id": requestId } })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(error?.code, Code.NotFound);
    const [line, ...more] = await until("the RPC's log line", () => (linesOf(app, requestId).length > 0 ? linesOf(app, requestId) : undefined), 5000);
    assert.deepEqual(more, [], "exactly one line");
    assert.equal(line!.level, 30, "info");
    assert.equal(line!.msg, "rpc");
    assert.equal(line!.tenant, "acme");
    assert.equal(line!.rpc, "ctrl.v1.DeployService/GetDeployment");
    assert.equal(line!.code, "not_found");
    assert.equal(typeof line!.ms, "number");
    assert.match(String(line!.reason), /dep_doesnotexist/);
    assert.equal(line!.err, undefined, "no error object");
    assert.doesNotMatch(JSON.stringify(line), /\n\s+at |stack/, "no stack trace");
  });

  it("an unexpected error is one error line with its stack; the caller gets an opaque Internal with the request id", async () => {
    const requestId = "log-test-internal-1";
    const error = await app
      .client(CtrlService)
      .version({}, { headers: { "x-request-id": requestId } })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(error?.code, Code.Internal);
    assert.equal(error?.rawMessage, `internal error (request id ${requestId})`);
    assert.doesNotMatch(error!.rawMessage, /injected|faults\.ts|at /, "nothing of the real error reaches the caller");
    const [line, ...more] = await until("the RPC's log line", () => (linesOf(app, requestId).length > 0 ? linesOf(app, requestId) : undefined), 5000);
    assert.deepEqual(more, []);
    assert.equal(line!.level, 50, "error");
    assert.equal(line!.code, "internal");
    assert.equal(line!.tenant, "acme");
    assert.equal(line!.rpc, "ctrl.v1.CtrlService/Version");
    const err = line!.err as { type: string; message: string; stack: string };
    assert.equal(err.type, "InjectedFault");
    assert.match(err.stack, /injected fault in ctrl\.v1\.CtrlService\/Version/);
    assert.match(err.stack, /\n\s+at .*faults\.ts/, "the stack of what really failed");
  });

  it("a successful RPC is one info line with code ok", async () => {
    const requestId = "log-test-ok-1";
    await app.client(CtrlService).liveness({}, { headers: { "x-request-id": requestId } });
    const [line, ...more] = await until("the RPC's log line", () => (linesOf(app, requestId).length > 0 ? linesOf(app, requestId) : undefined), 5000);
    assert.deepEqual(more, []);
    assert.deepEqual([line!.level, line!.code, line!.tenant, line!.rpc], [30, "ok", "acme", "ctrl.v1.CtrlService/Liveness"]);
  });
});
