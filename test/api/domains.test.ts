// Custom domain claims through the real API and MariaDB: the DNS instructions, IDN and case,
// one claim per tenant, cross-tenant invisibility, the tombstone of a released verified name,
// bad input with its code and nothing written, and the outbox events.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { DnsRecordPurpose, DnsRecordType, DomainStatus, NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { REFUSED_HOSTNAMES } from "../support/badHostnames.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";

const APEX = "switchyard.app"; // the apex of the shared bad-hostname table

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    return Code[ConnectError.from(error).code]!;
  }
}

async function domainRows(app: App): Promise<number> {
  const result = await sql<{ n: number }>`SELECT (SELECT COUNT(*) FROM custom_domains) + (SELECT COUNT(*) FROM domain_tombstones) + (SELECT COUNT(*) FROM events) AS n`.execute(app.db);
  return Number(result.rows[0]!.n);
}

describe("custom domains", () => {
  let app: App;
  let acme: ProjectFixture;
  let globex: ProjectFixture;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_APEX_ADDRESSES: "192.0.2.10,2001:db8::10", SWITCHYARD_DOMAIN_TOMBSTONE: "1h", SWITCHYARD_PLATFORM_APEX: APEX } });
    acme = await createProject(app, "acme");
    globex = await createProject(app, "globex");
  });
  after(async () => {
    await app?.stop();
  });

  const add = (who: ProjectFixture, hostname: string, extra: { wildcard?: boolean; tls?: boolean; idempotencyKey?: string; environment?: string } = {}) =>
    app.client(NetworkService, who.tenant).addDomain({ workspaceId: who.workspaceId, projectId: who.projectId, hostname, ...extra });

  it("adds a pending claim and answers with the exact DNS records to create", async () => {
    const { domain } = await add(acme, "API.Shop.Example.com");
    assert.ok(domain);
    assert.equal(domain.hostname, "api.shop.example.com");
    assert.equal(domain.status, DomainStatus.PENDING);
    assert.equal(domain.verified, false);
    assert.equal(domain.tls, true);
    const records = domain.requiredRecords.map((r) => [DnsRecordType[r.type], r.name, DnsRecordPurpose[r.purpose], r.required]);
    assert.deepEqual(records, [
      ["TXT", "_switchyard-challenge.api.shop.example.com", "VERIFICATION", true],
      ["CNAME", "api.shop.example.com", "ROUTING", true],
      ["CNAME", "_acme-challenge.api.shop.example.com", "ACME_DELEGATION", false],
    ]);
    assert.match(domain.requiredRecords[0]!.value, /^switchyard-verification=[0-9a-v]{32}$/);
    assert.ok(domain.requiredRecords[1]!.value.endsWith(`.cname.${APEX}`));
    assert.ok(domain.requiredRecords[2]!.value.startsWith("_acme-challenge.api.shop.example.com."), "every label kept in the delegation target");
    const conditions = Object.fromEntries(domain.conditions.map((c) => [c.type, ConditionStatus[c.status]]));
    assert.deepEqual(conditions, {
      OwnershipVerified: "UNKNOWN",
      CNAMEConfigured: "UNKNOWN",
      ACMEChallengeDelegationReady: "UNKNOWN",
      TLSReady: "FALSE",
      TargetReady: "UNKNOWN",
      Ready: "FALSE",
    });

    const fetched = await app.client(NetworkService, "acme").getDomain({ domainId: domain.id });
    assert.deepEqual(fetched.domain?.requiredRecords, domain.requiredRecords, "GetDomain shows the same records");
    const event = await app.db.selectFrom("events").selectAll().where("subject", "=", domain.id).executeTakeFirstOrThrow();
    assert.equal(event.type, "DomainAdded");
    assert.equal(event.tenant_id, "acme");
  });

  it("stores an IDN hostname as its A-label and shows the Unicode form; an apex gets A and AAAA records", async () => {
    const { domain } = await add(acme, "Bücher.example.org", { tls: false });
    assert.equal(domain?.hostname, "xn--bcher-kva.example.org");
    assert.equal(domain?.unicodeHostname, "bücher.example.org");
    assert.equal(domain?.tls, false);
    assert.equal(domain?.conditions.find((c) => c.type === "TLSReady")?.reason, "TLSDisabled");
    const apex = (await add(acme, "example.net")).domain!;
    assert.deepEqual(
      apex.requiredRecords.filter((r) => r.purpose === DnsRecordPurpose.ROUTING).map((r) => [DnsRecordType[r.type], r.value]),
      [
        ["A", "192.0.2.10"],
        ["AAAA", "2001:db8::10"],
      ],
    );
  });

  it("keeps one claim per tenant and hostname; a retry with its idempotency key returns the same claim", async () => {
    const first = (await add(acme, "retry.example.com", { idempotencyKey: "k1" })).domain!;
    const again = (await add(acme, "RETRY.example.com", { idempotencyKey: "k1" })).domain!;
    assert.equal(again.id, first.id);
    assert.equal(await codeOf(add(acme, "retry.example.com")), "AlreadyExists");
  });

  it("never shows, lists or removes another tenant's claim, and lets another tenant hold its own pending claim", async () => {
    const mine = (await add(acme, "shared.example.com")).domain!;
    const theirs = app.client(NetworkService, "globex");
    assert.equal(await codeOf(theirs.getDomain({ domainId: mine.id })), "NotFound");
    assert.equal(await codeOf(theirs.removeDomain({ domainId: mine.id })), "NotFound");
    assert.equal(await codeOf(theirs.listDomains({ workspaceId: acme.workspaceId })), "NotFound");
    const theirClaim = (await add(globex, "shared.example.com")).domain!;
    assert.notEqual(theirClaim.id, mine.id);
    assert.notEqual(theirClaim.requiredRecords[0]!.value, mine.requiredRecords[0]!.value, "the TXT token is per claim");
    assert.notEqual(theirClaim.requiredRecords[1]!.value, mine.requiredRecords[1]!.value, "the CNAME target is per tenant");
    const listed = await theirs.listDomains({ workspaceId: globex.workspaceId });
    assert.deepEqual(listed.domains.map((d) => d.id), [theirClaim.id]);
  });

  it("reserves a released verified hostname for its owner, who gets it back verified", async () => {
    const owned = (await add(acme, "owned.example.com")).domain!;
    // Ownership proofs come with the verification work; mark the claim proven directly.
    await app.db.updateTable("custom_domains").set({ status: "verified", verified_at: new Date() }).where("id", "=", owned.id).execute();
    const removed = await app.client(NetworkService, "acme").removeDomain({ domainId: owned.id });
    assert.equal(removed.domain?.status, DomainStatus.REMOVED);
    assert.ok(removed.tombstoneExpireTime, "a tombstone was set");
    const again = await app.client(NetworkService, "acme").removeDomain({ domainId: owned.id });
    assert.equal(again.domain?.status, DomainStatus.REMOVED, "removing twice returns it unchanged");

    const refused = await add(globex, "owned.example.com").then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    assert.equal(refused?.code, Code.FailedPrecondition);
    assert.match(refused!.rawMessage, /^hostname: owned\.example\.com .*reserved .* until \d{4}-/);

    const back = (await add(acme, "owned.example.com")).domain!;
    assert.equal(back.status, DomainStatus.VERIFIED);
    assert.equal(await app.db.selectFrom("domain_tombstones").select("hostname").where("hostname", "=", "owned.example.com").executeTakeFirst(), undefined);
  });

  it("does not reserve a hostname whose claim was never proven", async () => {
    const pending = (await add(acme, "squat.example.com")).domain!;
    const removed = await app.client(NetworkService, "acme").removeDomain({ domainId: pending.id });
    assert.equal(removed.tombstoneExpireTime, undefined);
    assert.equal((await add(globex, "squat.example.com")).domain?.status, DomainStatus.PENDING);
  });

  it("lists a workspace's claims by hostname, page by page, without removed ones", async () => {
    const ws = await createProject(app, "acme");
    const names = ["c.example.com", "a.example.com", "b.example.com", "d.example.com"];
    for (const name of names) await add(ws, name);
    const gone = (await add(ws, "e.example.com")).domain!;
    await app.client(NetworkService, "acme").removeDomain({ domainId: gone.id });
    const seen: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 10; page++) {
      const response = await app.client(NetworkService, "acme").listDomains({ workspaceId: ws.workspaceId, pageSize: 3, pageToken });
      seen.push(...response.domains.map((d) => d.hostname));
      pageToken = response.nextPageToken;
      if (!pageToken) break;
    }
    assert.deepEqual(seen, [...names].sort());
    const one = await app.client(NetworkService, "acme").listDomains({ workspaceId: ws.workspaceId, hostname: "B.Example.com" });
    assert.deepEqual(one.domains.map((d) => d.hostname), ["b.example.com"]);
  });

  it("answers bad input with the right code and a message naming the field, writing nothing", async () => {
    const otherWorkspace = (await createProject(app, "acme")).workspaceId;
    // Thunks: each call starts only when its turn comes, after the row count below.
    const cases: [string, () => Promise<unknown>, string, RegExp][] = [
      ["empty workspace", () => app.client(NetworkService).addDomain({ projectId: acme.projectId, hostname: "x.example.com" }), "InvalidArgument", /^workspace_id: /],
      ["empty project", () => app.client(NetworkService).addDomain({ workspaceId: acme.workspaceId, hostname: "x.example.com" }), "InvalidArgument", /^project_id: /],
      ["IP address", () => add(acme, "10.0.0.1"), "InvalidArgument", /^hostname: .*IP address/],
      ["public suffix", () => add(acme, "co.uk"), "InvalidArgument", /^hostname: .*public suffix/],
      ["wildcard without flag", () => add(acme, "*.example.com"), "InvalidArgument", /^hostname: .*wildcard/],
      ["scheme", () => add(acme, "https://x.example.invalid"), "InvalidArgument", /^hostname: .*scheme/],
      ["platform apex", () => add(acme, `x.${APEX}`), "InvalidArgument", /^hostname: .*platform/],
      ["oversized", () => add(acme, `${"a".repeat(300)}.com`), "InvalidArgument", /^hostname: /],
      ["unknown environment", () => add(acme, "x.example.com", { environment: "nope" }), "NotFound", /environment/],
      ["another tenant's project", () => app.client(NetworkService).addDomain({ workspaceId: globex.workspaceId, projectId: globex.projectId, hostname: "x.example.com" }), "NotFound", /workspace/],
      ["project of another workspace", () => app.client(NetworkService).addDomain({ workspaceId: otherWorkspace, projectId: acme.projectId, hostname: "x.example.com" }), "NotFound", /project/],
      ["empty domain id", () => app.client(NetworkService).getDomain({ domainId: "" }), "InvalidArgument", /^domain_id: /],
      ["absurd domain id", () => app.client(NetworkService).removeDomain({ domainId: "'; DROP TABLE x" }), "InvalidArgument", /^domain_id: /],
      ["unknown domain", () => app.client(NetworkService).getDomain({ domainId: "dom_01unknown" }), "NotFound", /domain/],
      ["bad page token", () => app.client(NetworkService).listDomains({ workspaceId: acme.workspaceId, pageToken: "garbage" }), "InvalidArgument", /page_token/],
    ];
    const before = await domainRows(app);
    for (const [label, call, code, message] of cases) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.ok(error, `${label}: expected ${code}`);
      assert.equal(Code[error.code], code, `${label}: ${error.rawMessage}`);
      assert.match(error.rawMessage, message, label);
      assert.doesNotMatch(error.rawMessage, /sql|select|insert|at .*\.ts:\d+/i, `${label}: no SQL or stack trace`);
    }
    assert.equal(await domainRows(app), before, "nothing was written");
  });
  it(`refuses each of ${REFUSED_HOSTNAMES.length} bad hostnames with InvalidArgument naming the field, writing nothing`, async () => {
    const before = await domainRows(app);
    for (const [hostname, problem, wildcard] of REFUSED_HOSTNAMES) {
      const error = await add(acme, hostname, { wildcard: wildcard ?? false }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.ok(error, `${JSON.stringify(hostname)} was accepted`);
      assert.equal(Code[error.code], "InvalidArgument", JSON.stringify(hostname));
      assert.match(error.rawMessage, /^hostname: /, JSON.stringify(hostname));
      assert.match(error.rawMessage, problem, JSON.stringify(hostname));
    }
    assert.equal(await domainRows(app), before, "nothing was written");
  });
});
