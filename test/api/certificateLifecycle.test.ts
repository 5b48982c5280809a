// The life of a certificate against Pebble behind a gate the test can close or make answer
// "rate limited": backoff while the CA is down and success once it is back, Retry-After honoured
// by a durable sleep, renewal at two thirds of a short lifetime (the gateway config then names
// the successor), CertExpiring while a renewal keeps failing, and the per-account order budget.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DnsRecordPurpose, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { CertificateStatus, ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { startSwitchyard } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { startCaGate, type CaGate } from "../support/caGate.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

const LIFETIME_SECONDS = 15;
const ORDER_BUDGET = { orders: 3, windowMs: 4000 };

describe("certificate lifecycle", () => {
  let app: App;
  let gate: CaGate;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: { certificateLifetimeSeconds: LIFETIME_SECONDS }, answerHttp01: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    gate = await startCaGate(app.stack.pebble!);
    await app.switchyard.stop();
    app.switchyard = await startSwitchyard(
      {
        ...app.env,
        SWITCHYARD_ACME_DIRECTORY_URL: gate.directoryUrl,
        // Each test orders explicitly, at the moment it has set the gate up for.
        SWITCHYARD_AUTO_TLS: "false",
        SWITCHYARD_CERT_RETRY_BACKOFF: "1s,2s",
        SWITCHYARD_CERT_EXPIRY_WARNINGS: "4s",
        SWITCHYARD_ACME_ORDER_BUDGET: `${ORDER_BUDGET.orders}/${ORDER_BUDGET.windowMs / 1000}s`,
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
  const verifiedDomain = async (hostname: string, project: ProjectFixture = acme): Promise<Domain> => {
    const domain = (await network().addDomain({ workspaceId: project.workspaceId, projectId: project.projectId, hostname })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    return (await network().verifyDomain({ domainId: domain.id })).domain!;
  };
  const tlsReady = async (domainId: string) => (await network().getDomain({ domainId })).domain!.conditions.find((c) => c.type === "TLSReady")!;
  const issuedFor = (hostname: string) => app.db.selectFrom("certificates").selectAll().where("hostname", "=", hostname).where("status", "=", "issued").executeTakeFirst();
  const eventsOf = (type: string, hostname: string) =>
    app.db
      .selectFrom("events")
      .select(["type", "payload", "created_at"])
      .where("type", "=", type)
      .where("payload", "like", `%"hostname":"${hostname}"%`)
      .orderBy("id")
      .execute();

  it("backs off while the CA is down, says why, and issues once it is back", async () => {
    const domain = await verifiedDomain("outage.example.com");
    gate.close();
    try {
      const pending = (await network().provisionCert({ domainId: domain.id })).certificate!;
      const failures = await until("two failed attempts", async () => ((await eventsOf("CertIssuanceFailed", "outage.example.com")).length >= 2 ? eventsOf("CertIssuanceFailed", "outage.example.com") : undefined), 60_000, 200);
      const [first, second] = failures.map((f) => JSON.parse(f.payload) as { attempts: number; nextAttemptAt: string; error: string });
      assert.deepEqual([first!.attempts, second!.attempts], [1, 2]);
      // The backoff is 1s then 2s: the second failure comes at least a second after the first.
      assert.ok(failures[1]!.created_at.getTime() - failures[0]!.created_at.getTime() >= 1000, "the retry waited for the backoff");
      const condition = await tlsReady(domain.id);
      assert.equal(condition.status, ConditionStatus.FALSE);
      assert.equal(condition.reason, "IssuanceFailed");
      assert.match(condition.message, /next attempt at/);
      const failed = (await network().getCertificate({ lookup: { case: "certificateId", value: pending.id } })).certificate!;
      assert.equal(failed.status, CertificateStatus.FAILED);
      assert.notEqual(failed.lastError, "");
    } finally {
      gate.open();
    }
    await until("TLSReady once the CA is back", async () => (await tlsReady(domain.id)).status === ConditionStatus.TRUE, 60_000, 200);
    const rows = await app.db.selectFrom("certificates").select(["status"]).where("hostname", "=", "outage.example.com").where("status", "=", "issued").execute();
    assert.equal(rows.length, 1);
  });

  it("sleeps at least the CA's Retry-After before asking again", async () => {
    const domain = await verifiedDomain("limited.example.com");
    const seen = gate.requests.length;
    gate.rateLimitNewOrders(1, 3);
    await network().provisionCert({ domainId: domain.id });
    await until("TLSReady after the rate limit", async () => (await tlsReady(domain.id)).status === ConditionStatus.TRUE, 60_000, 200);
    const orders = gate.requests.slice(seen).filter((r) => r.method === "POST" && r.path === "/order-plz");
    assert.equal(orders[0]?.status, 429);
    const retry = orders.find((r) => r.status === 201);
    assert.ok(retry, "the order was placed after the wait");
    assert.ok(retry.at - orders[0]!.at >= 3000, `asked again after ${retry.at - orders[0]!.at} ms, Retry-After was 3 s`);
  });

  it("renews at two thirds of the lifetime, and the gateway config names the successor", async () => {
    const domain = await verifiedDomain("renew.example.com");
    await network().provisionCert({ domainId: domain.id });
    const first = await until("the first certificate", () => issuedFor("renew.example.com"), 60_000, 200);
    const lifetime = first.not_after!.getTime() - first.not_before!.getTime();
    assert.ok(Math.abs(first.renew_at!.getTime() - (first.not_before!.getTime() + (lifetime * 2) / 3)) <= 1, "renew_at is two thirds into the lifetime");
    const second = await until("the renewed certificate", async () => {
      const row = await issuedFor("renew.example.com");
      return row && row.id !== first.id ? row : undefined;
    }, 60_000, 200);
    assert.ok(Date.now() >= first.renew_at!.getTime(), "not renewed before renew_at");
    assert.notEqual(new X509Certificate(second.pem_chain!).serialNumber, new X509Certificate(first.pem_chain!).serialNumber);
    const config = await until("the gateway config to name the successor", async () => {
      const current = (await app.client(RoutingService, "acme").getGatewayConfig({ hostname: "renew.example.com" })).config;
      return current?.certificateId === second.id ? current : undefined;
    }, 10_000, 100);
    assert.equal(config.certificateId, second.id);
    const old = await app.db.selectFrom("certificates").select("status").where("id", "=", first.id).executeTakeFirstOrThrow();
    assert.equal(old.status, "superseded");
  });

  it("raises CertExpiring while a renewal keeps failing, and renews once the CA is back", async () => {
    const domain = await verifiedDomain("expiring.example.com");
    await network().provisionCert({ domainId: domain.id });
    const first = await until("the certificate", () => issuedFor("expiring.example.com"), 60_000, 200);
    gate.close();
    try {
      const renewalFailed = await until("a failed renewal attempt", async () => {
        const events = await eventsOf("CertIssuanceFailed", "expiring.example.com");
        return events.find((e) => (JSON.parse(e.payload) as { renewal: boolean }).renewal);
      }, 60_000, 200);
      assert.match((JSON.parse(renewalFailed.payload) as { error: string }).error, /the CA at 127\.0\.0\.1:\d+ is unreachable/);
      const [warning] = await until("CertExpiring", async () => {
        const events = await eventsOf("CertExpiring", "expiring.example.com");
        return events.length > 0 ? events : undefined;
      }, 60_000, 200);
      const payload = JSON.parse(warning!.payload) as { certificateId: string; notAfter: string };
      assert.equal(payload.certificateId, first.id);
      assert.equal(payload.notAfter, first.not_after!.toISOString());
      // A failing renewal leaves the valid certificate serving: TLSReady turns False, if at all,
      // only once that certificate has expired (its lifetime here is 15 s).
      const tls = await tlsReady(domain.id);
      if (tls.status !== ConditionStatus.TRUE) {
        assert.ok(timestampDate(tls.lastTransitionTime!).getTime() >= first.not_after!.getTime(), `TLSReady turned ${tls.status} before the certificate expired`);
      }
    } finally {
      gate.open();
    }
    await until("the renewal once the CA is back", async () => {
      const row = await issuedFor("expiring.example.com");
      return row && row.id !== first.id ? row : undefined;
    }, 60_000, 200);
  });

  it("keeps each account's new orders within its budget", async () => {
    // A workspace of its own: its own ACME account, which no renewal of the other tests uses.
    const budgeted = await createProject(app, "acme");
    await deploy(app, budgeted);
    const domains = await Promise.all(["b1", "b2", "b3", "b4", "b5", "b6"].map((label) => verifiedDomain(`${label}.budget.example.com`, budgeted)));
    const seen = gate.requests.length;
    await Promise.all(domains.map((d) => network().provisionCert({ domainId: d.id })));
    for (const domain of domains) {
      await until(`TLSReady for ${domain.hostname}`, async () => (await tlsReady(domain.id)).status === ConditionStatus.TRUE, 60_000, 200);
    }
    // Orders the CA accepted (a badNonce answer, which Pebble gives now and then, places none).
    const orders = gate.requests.slice(seen).filter((r) => r.method === "POST" && r.path === "/order-plz" && r.status === 201);
    // Renewals of the other tests' certificates go through another account: leave them out.
    const account = await app.db.selectFrom("acme_users").select("registration_uri").where("scope", "=", budgeted.workspaceId).executeTakeFirstOrThrow();
    const placed = orders.filter((o) => o.kid === account.registration_uri);
    assert.ok(placed.length >= domains.length, `${placed.length} orders for ${domains.length} domains`);
    // Slots are a window apart; an order reaches the CA a little after its slot, by how long
    // its own requests took, so the check allows half a second of that.
    const window = ORDER_BUDGET.windowMs - 500;
    for (const order of placed) {
      const inWindow = placed.filter((o) => o.at >= order.at && o.at < order.at + window).length;
      assert.ok(inWindow <= ORDER_BUDGET.orders, `${inWindow} orders within ${window} ms`);
    }
  });
});
