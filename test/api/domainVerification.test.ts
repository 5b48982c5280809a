// VerifyDomain against real DNS: pebble-challtestsrv's DNS server stands in for the customer's
// DNS (records set through its management API), and switchyard asks it through
// SWITCHYARD_DNS_SERVERS. Every proof type, IDN, diagnoses, takeover by TXT only, lost
// ownership, and the tri-state hold when DNS stops answering.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DnsRecordPurpose, DomainStatus, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, type ProjectFixture, type Tenant } from "../support/fixtures.js";

const record = (domain: Domain, purpose: DnsRecordPurpose) => domain.requiredRecords.find((r) => r.purpose === purpose)!;
const condition = (domain: Domain, type: string) => {
  const found = domain.conditions.find((c) => c.type === type);
  assert.ok(found, `condition ${type}`);
  return { status: ConditionStatus[found.status], reason: found.reason, message: found.message };
};

describe("domain verification over real DNS", () => {
  let app: App;
  let acme: ProjectFixture;
  let globex: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    acme = await createProject(app, "acme");
    globex = await createProject(app, "globex");
  });
  after(async () => {
    await app?.stop();
  });

  const dns = () => app.stack.pebble!.challtestsrv;
  const add = async (who: ProjectFixture, hostname: string) =>
    (await app.client(NetworkService, who.tenant).addDomain({ workspaceId: who.workspaceId, projectId: who.projectId, hostname })).domain!;
  const verify = async (tenant: Tenant, domain: Domain) => (await app.client(NetworkService, tenant).verifyDomain({ domainId: domain.id })).domain!;
  const eventsOf = async (subject: string) =>
    (await app.db.selectFrom("events").select(["type", "tenant_id"]).where("subject", "=", subject).orderBy("id").execute()).map((e) => `${e.tenant_id}:${e.type}`);

  it("proves ownership with the TXT record, and says exactly what is missing until then", async () => {
    const domain = await add(acme, "api.example.com");
    const txt = record(domain, DnsRecordPurpose.VERIFICATION);
    const unproven = await verify("acme", domain);
    assert.equal(unproven.status, DomainStatus.PENDING);
    const ownership = condition(unproven, "OwnershipVerified");
    assert.equal(ownership.status, "FALSE");
    assert.ok(ownership.message.includes(txt.name) && ownership.message.includes(txt.value), ownership.message);

    await dns().addTxt(txt.name, txt.value);
    const proven = await verify("acme", domain);
    assert.equal(proven.status, DomainStatus.VERIFIED);
    assert.deepEqual(condition(proven, "OwnershipVerified"), { status: "TRUE", reason: "ProvenByTxt", message: "ownership proven by txt" });
    assert.equal(condition(proven, "Ready").status, "FALSE", "not ready: no live deployment, no certificate");
    assert.deepEqual(await eventsOf(domain.id), ["acme:DomainAdded", "acme:DomainVerified"]);
  });

  it("accepts the main CNAME and the _acme-challenge delegation as proofs", async () => {
    const viaCname = await add(acme, "www.example.com");
    await dns().addCname(viaCname.hostname, record(viaCname, DnsRecordPurpose.ROUTING).value);
    const cnameChecked = await verify("acme", viaCname);
    assert.equal(cnameChecked.status, DomainStatus.VERIFIED);
    assert.equal(condition(cnameChecked, "OwnershipVerified").reason, "ProvenByCname");
    assert.equal(condition(cnameChecked, "CNAMEConfigured").status, "TRUE");

    const viaDelegation = await add(acme, "Bücher.example.com");
    const delegation = record(viaDelegation, DnsRecordPurpose.ACME_DELEGATION);
    assert.equal(delegation.name, "_acme-challenge.xn--bcher-kva.example.com");
    await dns().addCname(delegation.name, delegation.value);
    const delegated = await verify("acme", viaDelegation);
    assert.equal(delegated.status, DomainStatus.VERIFIED);
    assert.equal(condition(delegated, "OwnershipVerified").reason, "ProvenByDelegation");
    assert.equal(condition(delegated, "ACMEChallengeDelegationReady").status, "TRUE");
  });

  it("diagnoses a wrong CNAME target, a delegation that lost a label and a TXT at the wrong name", async () => {
    const domain = await add(acme, "shop.eu.example.com");
    await dns().addCname(domain.hostname, "someone-else.example.net");
    await dns().addCname(`_acme-challenge.${domain.hostname}`, record(domain, DnsRecordPurpose.ACME_DELEGATION).value.replace(".eu.", "."));
    const checked = await verify("acme", domain);
    assert.equal(checked.status, DomainStatus.PENDING);
    const problems = checked.diagnoses.map((d) => d.problem).join("\n");
    assert.match(problems, /shop\.eu\.example\.com is a CNAME to someone-else\.example\.net, not to /);
    assert.match(problems, /_acme-challenge\.shop\.eu\.example\.com points at _acme-challenge\.shop\.example\.com\.\S+, which lost labels of the hostname/);
    assert.ok(checked.diagnoses.every((d) => d.fix.length > 0));
    assert.equal(condition(checked, "CNAMEConfigured").reason, "CNAMEWrongTarget");
    const stored = await app.client(NetworkService, "acme").getDomain({ domainId: domain.id });
    assert.deepEqual(stored.domain?.diagnoses, checked.diagnoses, "GetDomain shows the last check's diagnoses");

    // CAA is looked up from the hostname up to its registrable domain; the closest set applies.
    await dns().addCaa("eu.example.com", [{ tag: "issue", value: "otherca.example" }]);
    const caa = await verify("acme", domain);
    assert.match(caa.diagnoses.map((d) => d.problem).join("\n"), /CAA records at eu\.example\.com allow only otherca\.example/);
    await dns().clearCaa("eu.example.com");

    // A TXT record and a CNAME cannot share a name, so the misplaced token gets its own domain.
    const misplaced = await add(acme, "misplaced.example.com");
    await dns().addTxt(misplaced.hostname, record(misplaced, DnsRecordPurpose.VERIFICATION).value);
    const diagnosed = await verify("acme", misplaced);
    assert.match(
      diagnosed.diagnoses.map((d) => d.problem).join("\n"),
      /verification TXT record is on misplaced\.example\.com instead of _switchyard-challenge\.misplaced\.example\.com/,
    );
  });

  it("lets another tenant take a verified hostname over with its own TXT record only", async () => {
    const owned = await add(acme, "app.example.org");
    await dns().addCname(owned.hostname, record(owned, DnsRecordPurpose.ROUTING).value);
    assert.equal((await verify("acme", owned)).status, DomainStatus.VERIFIED);

    const claim = await add(globex, "app.example.org");
    const delegation = record(claim, DnsRecordPurpose.ACME_DELEGATION);
    await dns().addCname(delegation.name, delegation.value);
    const notYet = await verify("globex", claim);
    assert.equal(notYet.status, DomainStatus.PENDING, "a delegation proof does not take a verified name over");
    assert.match(notYet.diagnoses.map((d) => d.problem).join("\n"), /verified by another account; only the TXT record proves a takeover/);

    const txt = record(claim, DnsRecordPurpose.VERIFICATION);
    await dns().addTxt(txt.name, txt.value);
    const taken = await verify("globex", claim);
    assert.equal(taken.status, DomainStatus.VERIFIED);
    const former = await app.client(NetworkService, "acme").getDomain({ domainId: owned.id });
    assert.equal(former.domain?.status, DomainStatus.REVOKED);
    assert.deepEqual(await eventsOf(owned.id), ["acme:DomainAdded", "acme:DomainVerified", "acme:DomainClaimRevoked"]);
    assert.deepEqual(await eventsOf(claim.id), ["globex:DomainAdded", "globex:DomainClaimRevoked", "globex:DomainVerified"]);
  });

  it("reports lost ownership once, keeping the domain verified", async () => {
    const domain = await add(acme, "lost.example.com");
    const txt = record(domain, DnsRecordPurpose.VERIFICATION);
    await dns().addTxt(txt.name, txt.value);
    assert.equal((await verify("acme", domain)).status, DomainStatus.VERIFIED);
    await dns().clearTxt(txt.name);
    const lost = await verify("acme", domain);
    assert.equal(lost.status, DomainStatus.VERIFIED, "detaching waits for the grace period of the background checks");
    assert.equal(condition(lost, "OwnershipVerified").status, "FALSE");
    await verify("acme", domain);
    assert.deepEqual(await eventsOf(domain.id), ["acme:DomainAdded", "acme:DomainVerified", "acme:DomainOwnershipLost"]);
  });

  it("keeps True conditions True when DNS answers SERVFAIL or not at all", async () => {
    const domain = await add(acme, "hold.example.com");
    const txt = record(domain, DnsRecordPurpose.VERIFICATION);
    await dns().addTxt(txt.name, txt.value);
    const proven = await verify("acme", domain);
    const before = condition(proven, "OwnershipVerified");
    assert.equal(before.status, "TRUE");

    await dns().setServfail(txt.name);
    const servfail = await verify("acme", domain);
    assert.deepEqual(condition(servfail, "OwnershipVerified"), before);
    assert.equal(servfail.status, DomainStatus.VERIFIED);
    await dns().clearServfail(txt.name);

    await app.stack.pebble!.kill(); // no DNS server at all: every lookup times out
    const silent = await verify("acme", domain);
    assert.deepEqual(condition(silent, "OwnershipVerified"), before);
    assert.equal(silent.status, DomainStatus.VERIFIED);
    assert.deepEqual(await eventsOf(domain.id), ["acme:DomainAdded", "acme:DomainVerified"], "no ownership-lost event");
  });
});
