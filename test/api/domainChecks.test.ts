// The Domain object's durable re-checks, against real restate-server and real DNS
// (challtestsrv): a check right after AddDomain, then the backoff schedule (visible in GetDomain
// and in the object's state), VerifyDomain restarting it, a SIGKILLed switchyard resuming it, and
// RemoveDomain ending it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DnsRecordPurpose, DomainStatus, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { queryAdmin } from "../../src/restate/admin.js";
import { startApp, type App } from "../support/app.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

/** The Domain object's state rows for one key, through the Restate admin SQL API. */
function objectState(app: App, domainId: string): Promise<{ key: string; value_utf8: string }[]> {
  return queryAdmin(app.stack.restate.adminUrl, `SELECT key, value_utf8 FROM state WHERE service_name = 'Domain' AND service_key = '${domainId}'`);
}

describe("durable domain re-checks", () => {
  let app: App;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, env: { SWITCHYARD_DOMAIN_CHECK_BACKOFF: "1s,2s", SWITCHYARD_DNS_TIMEOUT: "300ms" } });
    acme = await createProject(app, "acme");
  });
  after(async () => {
    await app?.stop();
  });

  const client = () => app.client(NetworkService, "acme");
  const add = async (hostname: string) => (await client().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname })).domain!;
  const get = async (id: string) => (await client().getDomain({ domainId: id })).domain!;
  const row = (id: string) => app.db.selectFrom("custom_domains").select(["check_attempt", "next_check_at", "updated_at", "status"]).where("id", "=", id).executeTakeFirstOrThrow();
  const txtOf = (domain: Domain) => domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;

  it("checks right after AddDomain, then on its backoff until the TXT record appears", async () => {
    const domain = await add("later.example.com");
    const checked = await until("the first check", async () => {
      const current = await get(domain.id);
      return current.conditions.find((c) => c.type === "OwnershipVerified")?.lastObservationTime && current.nextCheckTime ? current : undefined;
    });
    assert.equal(checked.status, DomainStatus.PENDING);
    assert.ok(timestampDate(checked.nextCheckTime!).getTime() > Date.now() - 1000, "the next check is scheduled");
    const state = await objectState(app, domain.id);
    assert.deepEqual(state.map((s) => s.key), ["schedule"]);
    assert.match(state[0]!.value_utf8, /"dueAt":"\d{4}-/);

    await until("a few scheduled checks", async () => (await row(domain.id)).check_attempt >= 3, 15_000);
    await app.stack.pebble!.challtestsrv.addTxt(txtOf(domain).name, txtOf(domain).value);
    const verified = await until("verification by a scheduled check", async () => ((await get(domain.id)).status === DomainStatus.VERIFIED ? get(domain.id) : undefined), 15_000);
    assert.ok(timestampDate(verified.nextCheckTime!).getTime() > Date.now() + 60 * 60_000, "a verified domain is re-checked slowly");
  });

  it("restarts the backoff on VerifyDomain", async () => {
    const domain = await add("reset.example.com");
    await until("two scheduled checks", async () => (await row(domain.id)).check_attempt >= 2, 15_000);
    await client().verifyDomain({ domainId: domain.id });
    assert.equal((await row(domain.id)).check_attempt, 1);
  });

  it("resumes the schedule after switchyard is SIGKILLed", async () => {
    const domain = await add("resumed.example.com");
    const first = await until("the first check", async () => (await row(domain.id)).next_check_at);
    await app.switchyard.kill();
    await app.stack.pebble!.challtestsrv.addTxt(txtOf(domain).name, txtOf(domain).value);
    // Let the scheduled check fall due while nothing serves it: restate-server keeps retrying it.
    await until("the scheduled check to fall due", () => Date.now() > first.getTime() + 500, 10_000);
    await app.switchyard.restart();
    await until("verification after the restart", async () => (await row(domain.id)).status === "verified", 30_000);
    const events = await app.db.selectFrom("events").select("type").where("subject", "=", domain.id).execute();
    assert.deepEqual(events.map((e) => e.type), ["DomainAdded", "DomainVerified"], "verified exactly once");
  });

  it("stops checking a removed domain", async () => {
    const domain = await add("removed.example.com");
    await until("the first check", async () => (await row(domain.id)).next_check_at);
    await client().removeDomain({ domainId: domain.id });
    await until("the schedule to be forgotten", async () => (await objectState(app, domain.id)).length === 0, 10_000);
    const removed = await row(domain.id);
    // Past the longest backoff step: a check that still ran would have written the row.
    await until("two backoff steps to pass", () => Date.now() > removed.updated_at.getTime() + 3000, 10_000);
    assert.deepEqual(await row(domain.id), removed);
  });
});
