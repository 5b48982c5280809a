import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { customDomainName } from "../../src/customDomains/name.js";
import { acmeDelegationTarget, cnameTarget, requiredRecords } from "../../src/customDomains/records.js";
import { REFUSED_HOSTNAMES as REFUSED } from "../support/badHostnames.js";

const APEX = "switchyard.app";
const check = (input: string, wildcard = false) => customDomainName(input, { wildcard, platformApex: APEX });

describe("custom domain names", () => {
  for (const [input, problem, wildcard] of REFUSED) {
    it(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      const result = check(input, wildcard);
      assert.ok("problem" in result, `expected a problem, got ${JSON.stringify(result)}`);
      assert.match(result.problem, problem);
    });
  }

  it("stores IDN names as A-labels and keeps the Unicode form for display", () => {
    assert.deepEqual(check("Bücher.Example.COM"), {
      hostname: "xn--bcher-kva.example.com",
      unicodeHostname: "bücher.example.com",
      baseHostname: "xn--bcher-kva.example.com",
      wildcard: false,
      apex: false,
    });
    const same = check("xn--bcher-kva.example.com");
    assert.ok(!("problem" in same) && same.unicodeHostname === "bücher.example.com");
  });

  it("knows apex names, private suffixes and wildcards", () => {
    assert.equal((check("Example.com") as { apex: boolean }).apex, true);
    assert.equal((check("shop.example.co.uk") as { apex: boolean }).apex, false);
    assert.equal((check("example.co.uk") as { apex: boolean }).apex, true);
    assert.equal((check("me.github.io") as { apex: boolean }).apex, true, "a private-section suffix makes me.github.io registrable");
    assert.deepEqual(check("*.Example.com", true), {
      hostname: "*.example.com",
      unicodeHostname: "*.example.com",
      baseHostname: "example.com",
      wildcard: true,
      apex: false,
    });
  });
});

describe("required DNS records", () => {
  const name = check("api.shop.example.com");
  assert.ok(!("problem" in name));

  it("asks for the TXT proof, the CNAME and the delegation with every label of the hostname", () => {
    const records = requiredRecords({ name, tenantId: "acme", verificationToken: "tok123", platformApex: APEX, apexAddresses: ["192.0.2.10"] });
    assert.deepEqual(
      records.map((r) => [r.type, r.name, r.purpose, r.required]),
      [
        ["TXT", "_switchyard-challenge.api.shop.example.com", "verification", true],
        ["CNAME", "api.shop.example.com", "routing", true],
        ["CNAME", "_acme-challenge.api.shop.example.com", "acme_delegation", false],
      ],
    );
    assert.equal(records[0]!.value, "switchyard-verification=tok123");
    assert.match(records[1]!.value, new RegExp(`^[0-9a-v]{20}\\.cname\\.${APEX.replace(".", "\\.")}$`));
    assert.ok(records[2]!.value.startsWith("_acme-challenge.api.shop.example.com."), records[2]!.value);
  });

  it("binds every target to the tenant and the hostname", () => {
    assert.notEqual(cnameTarget("acme", "api.example.com", APEX), cnameTarget("globex", "api.example.com", APEX));
    assert.notEqual(cnameTarget("acme", "api.example.com", APEX), cnameTarget("acme", "www.example.com", APEX));
    assert.equal(cnameTarget("acme", "api.example.com", APEX), cnameTarget("acme", "api.example.com", APEX));
    assert.notEqual(acmeDelegationTarget("acme", "api.example.com", APEX), acmeDelegationTarget("globex", "api.example.com", APEX));
  });

  it("points an apex at the platform addresses, and a wildcard needs the delegation", () => {
    const apex = check("example.com");
    assert.ok(!("problem" in apex));
    const records = requiredRecords({ name: apex, tenantId: "acme", verificationToken: "t", platformApex: APEX, apexAddresses: ["192.0.2.10", "2001:db8::10"] });
    assert.deepEqual(
      records.filter((r) => r.purpose === "routing").map((r) => [r.type, r.name, r.value]),
      [
        ["A", "example.com", "192.0.2.10"],
        ["AAAA", "example.com", "2001:db8::10"],
      ],
    );
    const wildcard = check("*.example.com", true);
    assert.ok(!("problem" in wildcard));
    const delegation = requiredRecords({ name: wildcard, tenantId: "acme", verificationToken: "t", platformApex: APEX, apexAddresses: [] }).find(
      (r) => r.purpose === "acme_delegation",
    );
    assert.equal(delegation?.required, true);
    assert.equal(delegation?.name, "_acme-challenge.example.com");
  });

  it("offers no delegation whose name would exceed 253 characters", () => {
    const long = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(40)}.example.com`;
    assert.equal(acmeDelegationTarget("acme", long, APEX), undefined);
  });
});
