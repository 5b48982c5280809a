import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { customDomainName } from "../../src/domain/customDomainName.js";
import { acmeDelegationTarget, cnameTarget, requiredRecords } from "../../src/domain/domainRecords.js";

const APEX = "switchyard.app";
const check = (input: string, wildcard = false) => customDomainName(input, { wildcard, platformApex: APEX });

// Each refused name with a fragment of the problem it must report.
const REFUSED: [input: string, problem: RegExp, wildcard?: boolean][] = [
  ["", /is required/],
  ["   ", /is required/],
  ["https://api.example.com", /without a scheme/],
  ["http://example.com/", /without a scheme/],
  ["ftp://example.com", /without a scheme/],
  ["api.example.com/path", /without a path/],
  ["example.com/", /without a path/],
  ["api.example.com:443", /port/],
  ["api.example.com:", /port/],
  ["*.example.com", /is a wildcard; set wildcard/],
  ["example.com", /must start with "\*\." when wildcard/, true],
  ["*.*.example.com", /wildcard|invalid label/, true],
  ["api.*.example.com", /invalid label/],
  ["1.2.3.4", /not an IP address/],
  ["255.255.255.255", /not an IP address/],
  ["::1", /not an IP address|port/],
  ["[2001:db8::1]", /not an IP address/],
  ["2001:db8::1", /not an IP address|port/],
  ["api.example.com.", /end with a dot/],
  [".example.com", /empty label/],
  ["api..example.com", /empty label/],
  [`${"a".repeat(64)}.example.com`, /label longer than 63/],
  [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(57)}.example.com`, /longer than 253/],
  ["x".repeat(2000), /longer than 253/],
  ["-api.example.com", /invalid label/],
  ["api-.example.com", /invalid label/],
  ["api example.com", /not a valid hostname|invalid label/],
  ["api!.example.com", /not a valid hostname|invalid label/],
  ["api_1.example.com", /underscores/],
  ["_acme-challenge.example.com", /underscores/],
  ["localhost", /local name|two labels/],
  ["app.localhost", /local name/],
  ["printer.local", /local name/],
  ["web.test", /local name/],
  ["com", /two labels|public suffix/],
  ["co.uk", /public suffix/],
  ["github.io", /public suffix/],
  ["*.co.uk", /public suffix/, true],
  ["example.invalidtld", /not under a known public suffix/],
  ["intranet.corp", /not under a known public suffix/],
  ["switchyard.app", /platform domain/],
  ["web-acme.switchyard.app", /platform domain/],
  ["WEB.Switchyard.App", /platform domain/],
];

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
