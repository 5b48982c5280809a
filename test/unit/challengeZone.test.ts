// The challenge zone's answers and the choice of ACME challenge, as pure functions.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Packet } from "dns-packet";
import { chooseChallenge } from "../../src/acme/challengeChoice.js";
import { answerChallengeQuery } from "../../src/dns/challengeZoneAnswers.js";
import type { DomainCondition } from "../../src/customDomains/conditions.js";

const facts = { zone: "acme.example.net", nameServer: "ns.acme.example.net" };
const query = (name: string, type: "TXT" | "SOA" | "NS" | "A"): Packet => ({ id: 7, type: "query", flags: 1 << 8, questions: [{ name, type, class: "IN" }] });
const lookup = async (name: string) => (name === "_acme-challenge.shop.example.com.d1.acme.example.net" ? ["v1", "v2"] : []);
const rcode = (packet: Packet) => (packet.flags ?? 0) & 0xf;

describe("challenge zone answers", () => {
  it("answers pending TXT values authoritatively, echoing the question's case", async () => {
    const answer = await answerChallengeQuery(query("_ACME-challenge.shop.example.com.D1.acme.example.net", "TXT"), facts, lookup);
    assert.equal(rcode(answer), 0);
    assert.ok((answer.flags! & (1 << 10)) !== 0, "authoritative");
    assert.deepEqual(answer.answers?.map((a) => [a.name, (a as { data: unknown }).data]), [
      ["_ACME-challenge.shop.example.com.D1.acme.example.net", "v1"],
      ["_ACME-challenge.shop.example.com.D1.acme.example.net", "v2"],
    ]);
  });
  it("says NODATA with the SOA for a name without values, and answers SOA and NS at the apex", async () => {
    const empty = await answerChallengeQuery(query("other.acme.example.net", "TXT"), facts, lookup);
    assert.deepEqual([rcode(empty), empty.answers ?? [], empty.authorities?.[0]?.type], [0, [], "SOA"]);
    assert.equal((await answerChallengeQuery(query("acme.example.net", "SOA"), facts, lookup)).answers?.[0]?.type, "SOA");
    assert.equal((await answerChallengeQuery(query("acme.example.net", "NS"), facts, lookup)).answers?.[0]?.type, "NS");
  });
  it("says NODATA, not NXDOMAIN, for another type of a name that has TXT values", async () => {
    const other = await answerChallengeQuery(query("_acme-challenge.shop.example.com.d1.acme.example.net", "A"), facts, lookup);
    assert.deepEqual([rcode(other), other.answers ?? [], other.authorities?.map((a) => [a.type, a.name, "ttl" in a ? a.ttl : undefined])], [0, [], [["SOA", "acme.example.net", 1]]]);
    assert.ok((other.flags! & (1 << 10)) !== 0, "authoritative");
    const apexTxt = await answerChallengeQuery(query("ACME.Example.NET.", "TXT"), facts, lookup);
    assert.deepEqual([rcode(apexTxt), apexTxt.answers ?? [], apexTxt.authorities?.[0]?.type], [0, [], "SOA"]);
  });
  it("refuses names outside the zone and other classes, rejects malformed queries, and implements QUERY only", async () => {
    assert.equal(rcode(await answerChallengeQuery(query("example.com", "TXT"), facts, lookup)), 5);
    assert.equal(rcode(await answerChallengeQuery(query("evilacme.example.net", "TXT"), facts, lookup)), 5);
    const chaos: Packet = { id: 3, type: "query", questions: [{ name: "version.bind", type: "TXT", class: "CH" }] };
    assert.equal(rcode(await answerChallengeQuery(chaos, facts, lookup)), 5);
    assert.equal(rcode(await answerChallengeQuery({ id: 1, type: "query", questions: [] }, facts, lookup)), 1);
    const two: Packet = { id: 2, type: "query", questions: [query("acme.example.net", "SOA").questions![0]!, query("acme.example.net", "NS").questions![0]!] };
    assert.equal(rcode(await answerChallengeQuery(two, facts, lookup)), 1);
    const notify: Packet = { ...query("acme.example.net", "SOA"), flags: 4 << 11 };
    assert.equal(rcode(await answerChallengeQuery(notify, facts, lookup)), 4);
  });
  it("does not look anything up for names it refuses, and echoes the id and RD flag", async () => {
    let lookups = 0;
    const counting = async () => (lookups++, []);
    const refused = await answerChallengeQuery(query("_acme-challenge.shop.example.com", "TXT"), facts, counting);
    assert.deepEqual([lookups, refused.id, refused.type, (refused.flags! & (1 << 8)) !== 0, (refused.flags! & (1 << 10)) !== 0], [0, 7, "response", true, false]);
  });
});

describe("challenge choice", () => {
  const delegated: DomainCondition[] = [{ type: "ACMEChallengeDelegationReady", status: "True", reason: "", message: "", lastTransitionTime: "" }];
  const base = { delegationName: "_acme-challenge.shop.example.com", delegationTarget: "_acme-challenge.shop.example.com.d1.acme.example.net", challengeZoneServed: true };
  it("uses DNS-01 when the delegation is in place, for plain names and wildcards", () => {
    assert.deepEqual(chooseChallenge({ ...base, wildcard: false, conditions: delegated }), { type: "dns-01", dnsName: base.delegationTarget });
    assert.deepEqual(chooseChallenge({ ...base, wildcard: true, conditions: delegated }), { type: "dns-01", dnsName: base.delegationTarget });
  });
  it("falls back to HTTP-01 for a plain name, never for a wildcard", () => {
    assert.deepEqual(chooseChallenge({ ...base, wildcard: false, conditions: [] }), { type: "http-01" });
    assert.deepEqual(chooseChallenge({ ...base, wildcard: false, conditions: delegated, challengeZoneServed: false }), { type: "http-01" });
    const problem = chooseChallenge({ ...base, wildcard: true, conditions: [] });
    assert.ok("problem" in problem && problem.problem.includes(`create CNAME ${base.delegationName} → ${base.delegationTarget}`));
    const unserved = chooseChallenge({ ...base, wildcard: true, conditions: delegated, challengeZoneServed: false });
    assert.ok("problem" in unserved && unserved.problem.includes("SWITCHYARD_CHALLENGE_DNS_LISTEN"));
  });
});
