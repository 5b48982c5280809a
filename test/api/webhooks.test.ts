// Webhooks against a real HTTP receiver on loopback: events arrive signed with the endpoint's
// secret, a receiver that is down gets the delivery retried on the endpoint's backoff (every
// attempt queryable), and bad input is refused.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NetworkService, WebhookDeliveryStatus } from "../../src/gen/ctrl/v1/network_pb.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../../src/webhooks/signature.js";
import { freePort } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver on 127.0.0.1:port that records every POST and answers 200. */
async function receiver(port: number): Promise<{ received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("webhooks", () => {
  let app: App;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_WEBHOOK_BACKOFF: "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms", SWITCHYARD_WEBHOOK_POLL: "200ms" } });
    acme = await createProject(app, "acme");
  });
  after(async () => {
    await app?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  const addDomain = async (hostname: string) => (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname })).domain!;
  const signed = (secret: string, r: Received) =>
    verifySignature({ secret, timestamp: Number(r.headers[TIMESTAMP_HEADER]), body: r.body, signature: String(r.headers[SIGNATURE_HEADER]) });

  it("delivers the workspace's events, signed with the endpoint's secret", async () => {
    const port = await freePort();
    const hook = await receiver(port);
    try {
      const { endpoint, secret } = await network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: `http://127.0.0.1:${port}/hook`, eventTypes: ["DomainAdded"] });
      assert.match(secret, /^whsec_[0-9a-f]{64}$/);
      const domain = await addDomain("hooked.example.com");
      await until("the delivery", () => hook.received.length >= 1, 15_000);
      const [delivery] = hook.received;
      assert.ok(signed(secret, delivery!), "the signature verifies with the secret");
      assert.equal(signed("whsec_wrong", delivery!), false);
      const body = JSON.parse(delivery!.body) as { type: string; subject: string; data: { hostname: string } };
      assert.deepEqual([body.type, body.subject, body.data.hostname], ["DomainAdded", domain.id, "hooked.example.com"]);

      const attempts = await until("the attempt to be recorded", async () => {
        const list = await network().listWebhookDeliveries({ endpointId: endpoint!.id });
        return list.deliveries.length > 0 ? list.deliveries : undefined;
      });
      assert.deepEqual(attempts.map((d) => [d.attempt, WebhookDeliveryStatus[d.status], d.responseCode, d.eventType]), [[1, "SUCCEEDED", 200, "DomainAdded"]]);
      const listed = await network().listWebhookEndpoints({ workspaceId: acme.workspaceId });
      assert.ok(listed.endpoints.some((e) => e.id === endpoint!.id && e.eventTypes.join() === "DomainAdded"));
    } finally {
      await hook.close();
    }
  });

  it("retries while the receiver is down and delivers once it is back", async () => {
    const port = await freePort();
    const { endpoint, secret } = await network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: `http://127.0.0.1:${port}/down`, eventTypes: ["DomainAdded"] });
    const domain = await addDomain("retried.example.com");
    const failed = await until("two failed attempts", async () => {
      const list = await network().listWebhookDeliveries({ endpointId: endpoint!.id, status: WebhookDeliveryStatus.FAILED });
      return list.deliveries.length >= 2 ? list.deliveries : undefined;
    }, 15_000);
    assert.match(failed[0]!.error, /could not connect/);
    assert.ok(failed[0]!.nextAttemptTime, "the next attempt is scheduled");

    const hook = await receiver(port);
    try {
      await until("the delivery after the receiver came back", () => hook.received.length >= 1, 15_000);
      assert.ok(signed(secret, hook.received[0]!));
      assert.equal((JSON.parse(hook.received[0]!.body) as { subject: string }).subject, domain.id);
      const succeeded = await until("the successful attempt to be recorded", async () => {
        const list = await network().listWebhookDeliveries({ endpointId: endpoint!.id, status: WebhookDeliveryStatus.SUCCEEDED });
        return list.deliveries[0];
      });
      assert.ok(succeeded.attempt >= 3, `attempt ${succeeded.attempt}`);
    } finally {
      await hook.close();
      await network().deleteWebhookEndpoint({ endpointId: endpoint!.id });
    }
  });

  it("refuses bad endpoints and hides other tenants' endpoints", async () => {
    const codeOf = (call: Promise<unknown>) =>
      call.then(
        () => "ok",
        (error: unknown) => Code[ConnectError.from(error).code],
      );
    assert.equal(await codeOf(network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "http://hooks.acme.invalid/hook" })), "InvalidArgument");
    assert.equal(await codeOf(network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "not a url" })), "InvalidArgument");
    assert.equal(await codeOf(network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "https://hooks.acme.invalid/x", eventTypes: ["Nope"] })), "InvalidArgument");
    const { endpoint } = await network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "https://hooks.acme.invalid/x" });
    const globex = app.client(NetworkService, "globex");
    assert.equal(await codeOf(globex.listWebhookDeliveries({ endpointId: endpoint!.id })), "NotFound");
    assert.equal(await codeOf(globex.deleteWebhookEndpoint({ endpointId: endpoint!.id })), "NotFound");
    assert.equal(await codeOf(globex.listWebhookEndpoints({ workspaceId: acme.workspaceId })), "NotFound");
    await network().deleteWebhookEndpoint({ endpointId: endpoint!.id });
    assert.equal(await codeOf(network().listWebhookDeliveries({ endpointId: endpoint!.id })), "NotFound");
  });
});
