import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Lookup } from "../../src/dns/dnsProbe.js";
import { initialConditions } from "../../src/customDomains/conditions.js";
import { evaluateOwnership, type Expected, type Observation } from "../../src/customDomains/ownershipVerdict.js";

const expected: Expected = {
  hostname: "example.com",
  baseHostname: "example.com",
  apex: true,
  tls: false,
  verificationName: "_switchyard-challenge.example.com",
  verificationValue: "switchyard-verification=abc",
  cnameTarget: "d1.cname.switchyard.app",
  delegationName: "_acme-challenge.example.com",
  delegationTarget: "_acme-challenge.example.com.d1.acme.switchyard.app",
  apexAddresses: ["192.0.2.10"],
  caaIdentities: ["letsencrypt.org"],
  wildcard: false,
};
const absent: Lookup<string> = { kind: "absent" };
const unknown: Lookup<string> = { kind: "unknown", reason: "DNS timeout" };
const seen = (over: Partial<Observation> = {}): Observation => ({
  verificationTxt: absent,
  hostnameTxt: absent,
  mainCname: absent,
  addresses: absent,
  delegationCname: absent,
  delegationTxt: absent,
  certificateValid: false,
  target: { ready: true, message: "served by live deployment dep_1" },
  ...over,
});
const t0 = new Date("2026-11-23T00:00:00Z");
const t1 = new Date("2026-11-23T00:01:00Z");
const status = (conditions: { type: string; status: string }[], type: string) => conditions.find((c) => c.type === type)?.status;

describe("ownership check", () => {
  it("is Ready for an HTTP-only apex once the TXT proof, the addresses and a target are there", () => {
    const result = evaluateOwnership(expected, seen({ verificationTxt: { kind: "found", values: ["switchyard-verification=abc"] }, addresses: { kind: "found", values: ["192.0.2.10"] } }), initialConditions({ tls: false, now: t0 }), t1);
    assert.deepEqual(result.proofs, ["txt"]);
    assert.equal(status(result.conditions, "CNAMEConfigured"), "True");
    assert.equal(status(result.conditions, "Ready"), "True");
  });

  it("accepts a valid certificate as proof on its own", () => {
    const result = evaluateOwnership(expected, seen({ certificateValid: true }), [], t1);
    assert.deepEqual(result.proofs, ["certificate"]);
    assert.equal(result.ownership, "True");
  });

  it("is Unknown, not False, when a lookup got no answer", () => {
    const result = evaluateOwnership(expected, seen({ verificationTxt: unknown }), initialConditions({ tls: false, now: t0 }), t1);
    assert.equal(result.ownership, "Unknown");
    assert.equal(status(result.conditions, "Ready"), "False");
  });

  it("keeps a True condition, with its transition time, through an Unknown check", () => {
    const proven = evaluateOwnership(expected, seen({ verificationTxt: { kind: "found", values: ["switchyard-verification=abc"] } }), [], t0);
    const held = evaluateOwnership(expected, seen({ verificationTxt: unknown, delegationCname: unknown }), proven.conditions, t1);
    const before = proven.conditions.find((c) => c.type === "OwnershipVerified")!;
    const after = held.conditions.find((c) => c.type === "OwnershipVerified")!;
    assert.equal(after.status, "True");
    assert.equal(after.lastTransitionTime, before.lastTransitionTime);
    assert.equal(after.lastObservationTime, t1.toISOString());
  });

  it("moves lastTransitionTime only when the status changes", () => {
    const first = evaluateOwnership(expected, seen(), initialConditions({ tls: false, now: t0 }), t0);
    const second = evaluateOwnership(expected, seen(), first.conditions, t1);
    const a = first.conditions.find((c) => c.type === "OwnershipVerified")!;
    const b = second.conditions.find((c) => c.type === "OwnershipVerified")!;
    assert.equal(b.status, "False");
    assert.equal(b.lastTransitionTime, a.lastTransitionTime);
  });

  it("diagnoses a provider that appended the zone and leftover _acme-challenge TXT records", () => {
    const appended = evaluateOwnership(expected, seen({ delegationCname: { kind: "found", values: [`${expected.delegationTarget}.example.com`] } }), [], t1);
    assert.match(appended.diagnoses[0]!.problem, /appended the zone name/);
    assert.match(appended.diagnoses[0]!.fix, /trailing dot/);
    const leftovers = evaluateOwnership(expected, seen({ delegationTxt: { kind: "found", values: ["old-token"] } }), [], t1);
    assert.match(leftovers.diagnoses[0]!.problem, /1 TXT record\(s\) and no CNAME/);
  });
  it("diagnoses CAA records that forbid the configured CA, and accepts ones that allow it", () => {
    const tls = { ...expected, tls: true };
    const forbidding = evaluateOwnership(tls, seen({ caa: { name: "example.com", records: [{ tag: "issue", value: "otherca.example; account=1" }] } }), [], t1);
    assert.match(forbidding.diagnoses[0]!.problem, /CAA records at example\.com allow only otherca\.example .*not letsencrypt\.org/);
    assert.equal(forbidding.diagnoses[0]!.fix, 'add the CAA record example.com CAA 0 issue "letsencrypt.org"');
    const allowing = evaluateOwnership(tls, seen({ caa: { name: "example.com", records: [{ tag: "issue", value: "letsencrypt.org" }] } }), [], t1);
    assert.deepEqual(allowing.diagnoses, []);
    const wildcardOnly = evaluateOwnership({ ...tls, wildcard: true }, seen({ caa: { name: "example.com", records: [{ tag: "issue", value: "letsencrypt.org" }, { tag: "issuewild", value: ";" }] } }), [], t1);
    assert.match(wildcardOnly.diagnoses[0]!.problem, /allow only no CA/);
    assert.deepEqual(evaluateOwnership(expected, seen({ caa: { name: "example.com", records: [{ tag: "issue", value: "otherca.example" }] } }), [], t1).diagnoses, [], "HTTP-only needs no CA");
  });
});
