// Webhook targets are tenant-supplied URLs: by default they may reach public addresses only. An
// address is judged when the endpoint is created (IP literals in any notation) and again at
// connect time on every delivery (names, after resolution — so no DNS answer can point a
// delivery at the platform's own network later). Here the operator allows no extra range, and a
// receiver on 127.0.0.1 stands for the platform's internals: it must never see a request.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NetworkService, WebhookDeliveryStatus } from "../../src/gen/ctrl/v1/network_pb.js";
import { freePort } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

describe("webhook targets", () => {
  let app: App;
  let acme: ProjectFixture;
  let hits = 0;
  let internal: http.Server;
  let port: number;
  before(async () => {
    port = await freePort();
    internal = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200).end("ok");
    });
    await new Promise<void>((resolve) => internal.listen(port, "127.0.0.1", resolve));
    app = await startApp({
      env: {
        SWITCHYARD_OUTBOUND_ALLOWED_RANGES: "",
        SWITCHYARD_WEBHOOK_BACKOFF: "200ms",
        SWITCHYARD_WEBHOOK_POLL: "200ms",
      },
    });
    acme = await createProject(app, "acme");
  });
  after(async () => {
    await app?.stop();
    await new Promise((resolve) => internal?.close(resolve));
  });

  const network = () => app.client(NetworkService, "acme");
  const create = (url: string) => network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url, eventTypes: ["DomainAdded"] });

  it("refuses IP literals of loopback, private and link-local addresses in every notation", async () => {
    const refused = [
      `http://127.0.0.1:${port}/hook`,
      `http://127.1:${port}/hook`,
      `http://0x7f000001:${port}/hook`,
      `http://2130706433:${port}/hook`,
      `https://[::1]:${port}/hook`,
      `https://[::ffff:127.0.0.1]:${port}/hook`,
      "https://169.254.169.254/latest/meta-data",
      "https://10.0.0.5/hook",
      "https://0xa.0.0.5/hook",
      "https://192.168.1.1/hook",
      "https://100.64.0.1/hook",
      "https://0.0.0.0/hook",
    ];
    for (const url of refused) {
      const error = await create(url).then(
        () => assert.fail(`${url} was accepted`),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(Code[error.code], "InvalidArgument", `${url}: ${error.rawMessage}`);
      assert.match(error.rawMessage, /^url: /, url);
    }
    assert.equal(hits, 0);
  });

  it("checks the resolved address at connect time on every delivery", async () => {
    // localhost resolves to loopback: a name is accepted, its deliveries are refused.
    const { endpoint } = await create(`https://localhost:${port}/hook`);
    await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "rebound.example.com" });
    const attempts = await until("the refused attempts to be recorded", async () => {
      const list = await network().listWebhookDeliveries({ endpointId: endpoint!.id });
      return list.deliveries.length >= 2 ? list.deliveries : undefined;
    });
    for (const attempt of attempts) {
      assert.notEqual(attempt.status, WebhookDeliveryStatus.SUCCEEDED);
      assert.match(attempt.error, /not allowed|not a public address/);
      assert.doesNotMatch(attempt.error, /127\.0\.0\.1|::1/, "the answer does not reveal internal addresses");
    }
    assert.equal(hits, 0, "the internal receiver never saw a request");
  });

  it("gives no port-scanner answers: an open and a closed internal port fail alike", async () => {
    const closed = await freePort();
    const open = (await create(`https://localhost:${port}/scan`)).endpoint!;
    const shut = (await create(`https://localhost:${closed}/scan`)).endpoint!;
    await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "scan.example.com" });
    const firstError = async (id: string) =>
      until("an attempt", async () => (await network().listWebhookDeliveries({ endpointId: id })).deliveries.at(-1)?.error);
    assert.equal((await firstError(open.id)).replace(String(port), "P"), (await firstError(shut.id)).replace(String(closed), "P"));
    assert.equal(hits, 0);
  });
});
