// DNS-01 through the `_acme-challenge` CNAME delegation. Pebble's VA asks unbound, which follows
// the customer's CNAME (challtestsrv, the customer's DNS) into switchyard's challenge zone
// (switchyard's own authoritative server, answering from MySQL). The certificate is issued before
// the main CNAME exists — and while the hostname does not even reach switchyard — and a wildcard
// is issued the same way.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { certificateToOrder } from "../../src/acme/certificateRows.js";
import { loadConfig } from "../../src/config.js";
import { AcmeService, ChallengeType } from "../../src/gen/ctrl/v1/acme_pb.js";
import { DnsRecordPurpose, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { freeTcpUdpPort, startUnbound, type Unbound } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

const APEX = "switchyard.test-apex.dev";

describe("certificates over DNS-01 through the _acme-challenge delegation", () => {
  let app: App;
  let unbound: Unbound;
  let acme: ProjectFixture;
  let zonePort: number;
  before(async () => {
    const resolverPort = await freeTcpUdpPort();
    zonePort = await freeTcpUdpPort();
    app = await startApp({
      pebble: { resolverPort },
      answerHttp01: true,
      env: { SWITCHYARD_DNS_TIMEOUT: "500ms", SWITCHYARD_CHALLENGE_DNS_LISTEN: `127.0.0.1:${zonePort}` },
    });
    unbound = await startUnbound({
      port: resolverPort,
      forwardZones: { "example.com": app.stack.pebble!.challtestsrv.dnsServer, [`acme.${APEX}`]: `127.0.0.1:${zonePort}` },
    });
    acme = await createProject(app, "acme");
    await deploy(app, acme);
  });
  after(async () => {
    await app?.stop();
    await unbound?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  const condition = (domain: Domain, type: string) => domain.conditions.find((c) => c.type === type)!;
  /** Adds a domain and publishes its TXT proof and, when asked, its _acme-challenge delegation. */
  const addDomain = async (hostname: string, opts: { delegate: boolean; tls?: boolean }) => {
    const domain = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname, wildcard: hostname.startsWith("*."), tls: opts.tls ?? true })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    const delegation = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.ACME_DELEGATION)!;
    if (opts.delegate) await app.stack.pebble!.challtestsrv.addCname(delegation.name, delegation.value);
    return { domain: (await network().verifyDomain({ domainId: domain.id })).domain!, delegation };
  };
  const tlsReady = async (domainId: string) => {
    const domain = (await network().getDomain({ domainId })).domain!;
    return condition(domain, "TLSReady").status === ConditionStatus.TRUE ? domain : undefined;
  };

  it("issues before the main CNAME exists: TLSReady True while CNAMEConfigured is False", async () => {
    // The hostname resolves somewhere switchyard does not listen: HTTP-01 could not succeed.
    await app.stack.pebble!.challtestsrv.addA("early.example.com", "127.0.0.2");
    const { domain, delegation } = await addDomain("early.example.com", { delegate: true });
    assert.equal(condition(domain, "ACMEChallengeDelegationReady").status, ConditionStatus.TRUE);
    const validation = await app.client(AcmeService, "acme").validateDomain({ domainId: domain.id });
    assert.deepEqual([validation.valid, validation.challengeType], [true, ChallengeType.DNS_01]);
    assert.deepEqual(validation.conditions.map((c) => c.type).sort(), ["ACMEChallengeDelegationReady", "CNAMEConfigured", "OwnershipVerified"]);

    const ready = await until("TLSReady over DNS-01", () => tlsReady(domain.id), 60_000, 200);
    assert.equal(condition(ready, "CNAMEConfigured").status, ConditionStatus.FALSE);
    const challenge = await app.db.selectFrom("acme_challenges").selectAll().where("custom_domain_id", "=", domain.id).executeTakeFirstOrThrow();
    assert.deepEqual([challenge.type, challenge.dns_name, challenge.status], ["dns-01", delegation.value, "valid"]);
    const { certificate } = await network().getCertificate({ lookup: { case: "domainId", value: domain.id } });
    assert.match(new X509Certificate(certificate!.pemChain).subjectAltName ?? "", /DNS:early\.example\.com/);

    // Removing the domain deletes its certificate, sealed key and challenge (the delegation TXT).
    await network().removeDomain({ domainId: domain.id });
    assert.deepEqual(await app.db.selectFrom("certificates").select("id").where("hostname", "=", "early.example.com").execute(), []);
    assert.deepEqual(await app.db.selectFrom("acme_challenges").select("id").where("dns_name", "=", delegation.value).execute(), []);
    // The Domain object's re-check may have found it verified just before the removal: its next
    // step, ordering a certificate, then runs after it and must not write one for the gone domain.
    assert.equal(await app.db.transaction().execute((trx) => certificateToOrder(trx, domain.id, loadConfig(app.env))), null);
    assert.deepEqual(await app.db.selectFrom("certificates").select("id").where("hostname", "=", "early.example.com").execute(), []);
  });

  it("answers the challenge zone from MySQL and refuses names outside it", async () => {
    // HTTP-only, so no order of its own competes with the row this test writes.
    const { domain, delegation } = await addDomain("zone.example.com", { delegate: true, tls: false });
    await app.db
      .insertInto("acme_challenges")
      .values({ id: "chl_zone_test", custom_domain_id: domain.id, hostname: "zone.example.com", type: "dns-01", token: "zone-token", key_authorization: "test-value", dns_name: delegation.value, txt_value: "test-value", status: "pending" })
      .execute();
    const direct = new Resolver({ timeout: 2000, tries: 1 });
    direct.setServers([`127.0.0.1:${zonePort}`]);
    assert.deepEqual(await direct.resolveTxt(delegation.value.toUpperCase()), [["test-value"]], "case-insensitive, from MySQL");
    const refused = await direct.resolveTxt("example.org").then(() => "answered", (error: NodeJS.ErrnoException) => error.code);
    assert.equal(refused, "EREFUSED");
    // Through the resolver, as the CA sees it: the customer's CNAME, then our TXT.
    const viaResolver = new Resolver({ timeout: 2000, tries: 2 });
    viaResolver.setServers([unbound.address]);
    assert.deepEqual(await viaResolver.resolveTxt(delegation.name), [["test-value"]]);
    await app.db.updateTable("acme_challenges").set({ status: "valid" }).where("custom_domain_id", "=", domain.id).execute();
    const gone = await direct.resolveTxt(delegation.value).then(() => "answered", (error: NodeJS.ErrnoException) => error.code);
    assert.equal(gone, "ENODATA", "a settled challenge is no longer answered");
  });

  it("issues a wildcard through the delegation, and refuses one without it, saying why", async () => {
    const { domain: undelegated, delegation } = await addDomain("*.bare.example.com", { delegate: false });
    const error = await network().provisionCert({ domainId: undelegated.id }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(error?.code, Code.FailedPrecondition);
    assert.match(error!.rawMessage, new RegExp(`wildcard certificate needs DNS-01: create CNAME ${delegation.name.replace(/\./g, "\\.")} → `));
    const validation = await app.client(AcmeService, "acme").validateDomain({ domainId: undelegated.id });
    assert.deepEqual([validation.valid, validation.challengeType], [false, ChallengeType.UNSPECIFIED]);
    assert.ok(validation.diagnoses.some((d) => d.problem.includes("wildcard certificate needs DNS-01")));
    const globex = await app.client(AcmeService, "globex").validateDomain({ domainId: undelegated.id }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(globex?.code, Code.NotFound, "another tenant's domain is not found");

    const { domain } = await addDomain("*.shop.example.com", { delegate: true });
    await until("TLSReady for the wildcard", () => tlsReady(domain.id), 60_000, 200);
    const { certificate } = await network().getCertificate({ lookup: { case: "domainId", value: domain.id } });
    assert.match(new X509Certificate(certificate!.pemChain).subjectAltName ?? "", /DNS:\*\.shop\.example\.com/);
  });
});
