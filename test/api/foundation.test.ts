import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { ClusterService } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { CtrlService } from "../../src/gen/ctrl/v1/ctrl_pb.js";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { OpenApiService } from "../../src/gen/ctrl/v1/openapi_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { listDeployments } from "../../src/restate/admin.js";
import { startApp, type App } from "../support/app.js";

const SERVICES: DescService[] = [CtrlService, DeployService, RoutingService, NetworkService, AcmeService, ClusterService, OpenApiService];

/** Calls a unary method with an empty request and returns the Connect code (or "ok"). */
async function codeOf(app: App, service: DescService, method: string, as: Parameters<App["client"]>[1]): Promise<string> {
  const client = app.client(service, as) as Record<string, (req: object) => Promise<unknown>>;
  try {
    await client[method]!({});
    return "ok";
  } catch (error) {
    return Code[ConnectError.from(error).code]!;
  }
}

describe("foundation", () => {
  let app: App;
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    await app?.stop();
  });

  it("answers Liveness over Connect JSON, Connect binary and gRPC", async () => {
    for (const protocol of ["connect", "connect-binary", "grpc"] as const) {
      const response = await app.client(CtrlService, "acme", protocol).liveness({});
      assert.equal(response.status, "ok", protocol);
    }
    const version = await app.client(CtrlService).version({});
    assert.match(version.version, /^\d+\.\d+\.\d+/);
    assert.ok(version.startTime, "start time is set");
  });

  it("answers Liveness to a plain curl-style JSON POST", async () => {
    const response = await fetch(`${app.switchyard.url}/ctrl.v1.CtrlService/Liveness`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.tokens.acme}` },
      body: "{}",
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { status: string }).status, "ok");
    assert.match(response.headers.get("x-request-id") ?? "", /.+/);
  });

  it("rejects every RPC of every service without a token or with a wrong one", async () => {
    const wrong = { token: "x".repeat(48) };
    for (const service of SERVICES) {
      for (const method of service.methods) {
        if (method.methodKind !== "unary") continue;
        const name = method.localName;
        assert.equal(await codeOf(app, service, name, {}), "Unauthenticated", `${service.typeName}/${method.name} without token`);
        assert.equal(await codeOf(app, service, name, wrong), "Unauthenticated", `${service.typeName}/${method.name} with a wrong token`);
      }
    }
  });

  it("rejects server-streaming RPCs without a token", async () => {
    for (const service of SERVICES) {
      for (const method of service.methods) {
        if (method.methodKind !== "server_streaming") continue;
        const client = app.client(service, {}) as Record<string, (req: object) => AsyncIterable<unknown>>;
        await assert.rejects(
          async () => {
            for await (const _ of client[method.localName]!({})) break;
          },
          (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated,
          `${service.typeName}/${method.name}`,
        );
      }
    }
  });

  it("tells malformed Authorization headers apart in its message", async () => {
    const transport = createConnectTransport({ baseUrl: app.switchyard.url, httpVersion: "1.1" });
    const client = createClient(CtrlService, transport);
    await assert.rejects(client.liveness({}, { headers: { authorization: `Basic ${app.tokens.acme}` } }), /missing bearer token/);
  });

  it("registers its Restate endpoint, visible through the admin API", async () => {
    const deployments = await listDeployments(app.stack.restate.adminUrl);
    const services = deployments.flatMap((d) => d.services.map((s) => s.name));
    for (const name of ["System", "Project", "Deployment"]) assert.ok(services.includes(name), `${name} registered`);
  });

  it("stays registered and callable after restate-server is SIGKILLed and restarted", async () => {
    await app.stack.restate.kill();
    await app.stack.restate.restart();
    const deployments = await listDeployments(app.stack.restate.adminUrl);
    assert.ok(deployments.some((d) => d.services.some((s) => s.name === "System")));
    const deadline = Date.now() + 20_000;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${app.stack.restate.ingressUrl}/System/ping`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
        if (response.ok) {
          const body = (await response.json()) as { version: string };
          assert.match(body.version, /^\d+\.\d+\.\d+/);
          return;
        }
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.fail(`System/ping not callable after restart: ${String(last)}`);
  });
});
