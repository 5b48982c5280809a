// The metrics of custom domains and certificates, against the real things: challtestsrv answers
// the ownership TXT, Pebble issues over HTTP-01, and switchyard's /metrics counts what happened.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { DnsRecordPurpose, NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { scrape, valueOf } from "../support/metricsText.js";
import { until } from "../support/until.js";

describe("metrics: DNS checks, ACME, expiring certificates", () => {
  let app: App;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, answerHttp01: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    acme = await createProject(app, "acme");
    await deploy(app, acme);
  });
  after(async () => {
    await app?.stop();
  });

  it("a verified domain whose certificate Pebble issues: a verified DNS check, an issued order, a valid HTTP-01 challenge; a certificate near its end is counted as expiring", async () => {
    const metrics = () => scrape(app.env.SWITCHYARD_METRICS_LISTEN!);
    const network = app.client(NetworkService, "acme");
    const domain = (await network.addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "metrics.example.com" })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    await network.verifyDomain({ domainId: domain.id });
    await until(
      "TLSReady",
      async () => (await network.getDomain({ domainId: domain.id })).domain!.conditions.find((c) => c.type === "TLSReady")?.status === ConditionStatus.TRUE,
      60_000,
      200,
    );

    const samples = await metrics();
    assert.ok(valueOf(samples, "switchyard_dns_checks_total", { outcome: "verified" }) >= 1, "a check found the TXT proof");
    assert.equal(valueOf(samples, "switchyard_acme_orders_total", { outcome: "issued" }), 1);
    assert.equal(valueOf(samples, "switchyard_acme_orders_total", { outcome: "failed" }), 0);
    assert.equal(valueOf(samples, "switchyard_acme_challenges_total", { type: "http-01", outcome: "valid" }), 1);
    assert.equal(valueOf(samples, "switchyard_certificates_expiring"), 0, "a fresh certificate is not expiring");

    // Three days left (a renewal that has not happened): inside the 14-day window.
    await sql`UPDATE certificates SET not_after = utc_timestamp(3) + interval 3 day WHERE hostname = 'metrics.example.com' AND pem_chain IS NOT NULL`.execute(app.db);
    assert.equal(valueOf(await metrics(), "switchyard_certificates_expiring"), 1);
  });
});
