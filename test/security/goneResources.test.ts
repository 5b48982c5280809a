// no-poison: a workflow whose resource is deleted under it ends cleanly instead of retrying
// forever — a certificate order whose domain is removed mid-attempt, a webhook delivery whose
// endpoint is deleted mid-POST — and the next order of the same hostname is not stuck behind it.
// Pebble behind a gate (test/support/caGate.ts) makes the CA pause an attempt on cue.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { DnsRecordPurpose, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { CertificateStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { freePort, startSwitchyard } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { startCaGate, type CaGate } from "../support/caGate.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { invocationsOf } from "../support/restateQuery.js";
import { until } from "../support/until.js";

describe("workflows whose resource is gone", () => {
  let app: App;
  let gate: CaGate;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, answerHttp01: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    gate = await startCaGate(app.stack.pebble!);
    await app.switchyard.stop();
    app.switchyard = await startSwitchyard(
      {
        ...app.env,
        SWITCHYARD_ACME_DIRECTORY_URL: gate.directoryUrl,
        SWITCHYARD_AUTO_TLS: "false",
        SWITCHYARD_CERT_RETRY_BACKOFF: "1s",
        SWITCHYARD_WEBHOOK_BACKOFF: "300ms,300ms,300ms",
        SWITCHYARD_WEBHOOK_POLL: "200ms",
        SWITCHYARD_WEBHOOK_TIMEOUT: "3s",
      },
      { readyTimeoutMs: 30_000 },
    );
    acme = await createProject(app, "acme");
    await deploy(app, acme);
  });
  after(async () => {
    await app?.stop();
    await gate?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  const admin = () => app.stack.restate.adminUrl;
  const verifiedDomain = async (hostname: string): Promise<Domain> => {
    const domain = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    return (await network().verifyDomain({ domainId: domain.id })).domain!;
  };
  /** True once no invocation of the object is still running, retrying or scheduled. */
  const settled = async (service: string, handler: string, key: string) => {
    const rows = await invocationsOf(admin(), service, handler, key);
    return rows.every((r) => r.status === "completed") ? rows : undefined;
  };

  it("ends a certificate order whose domain was removed mid-attempt, and orders the next claim's certificate", async () => {
    const hostname = "removed-midway.example.com";
    const domain = await verifiedDomain(hostname);
    gate.rateLimitNewOrders(1, 3); // the attempt sleeps durably inside "create order"
    await network().provisionCert({ domainId: domain.id });
    await until("the attempt to reach the CA", () => gate.requests.some((r) => r.status === 429), 20_000);
    await network().removeDomain({ domainId: domain.id });
    const ended = await until("the attempt to end", () => settled("Certificate", "issue", hostname), 60_000, 250);
    assert.ok(ended.length >= 1);

    // The same tenant claims the name again (restored from its tombstone): its order is not stuck.
    const again = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname })).domain!;
    await network().provisionCert({ domainId: again.id });
    const issued = await until(
      "the next claim's certificate",
      async () => {
        const found = await network().getCertificate({ lookup: { case: "domainId", value: again.id } }).catch(() => undefined);
        return found?.certificate?.status === CertificateStatus.ACTIVE ? found.certificate : undefined;
      },
      60_000,
      250,
    );
    assert.equal(issued.hostname, hostname);
  });

  it("ends a webhook delivery whose endpoint was deleted mid-POST", async () => {
    const port = await freePort();
    let arrived = 0;
    // Holds every request open: the delivery is in flight when the endpoint is deleted.
    const stalled = http.createServer(() => void arrived++);
    await new Promise<void>((resolve) => stalled.listen(port, "127.0.0.1", resolve));
    try {
      const { endpoint } = await network().createWebhookEndpoint({ workspaceId: acme.workspaceId, url: `http://127.0.0.1:${port}/slow`, eventTypes: ["DomainAdded"] });
      await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "hooked-midway.example.com" });
      await until("the delivery to be in flight", () => arrived > 0, 15_000);
      await network().deleteWebhookEndpoint({ endpointId: endpoint!.id });
      const ended = await until("the delivery to end", () => settled("WebhookEndpoint", "pump", endpoint!.id), 30_000, 250);
      assert.ok(ended.every((r) => !r.last_failure || !/foreign key/i.test(r.last_failure)));
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });
});
