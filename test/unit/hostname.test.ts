import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalHostname } from "../../src/domain/hostname.js";

describe("canonicalHostname", () => {
  it("stores IDN as A-labels and folds case", () => {
    assert.deepEqual(canonicalHostname("Bücher.Example.COM"), { ascii: "xn--bcher-kva.example.com", unicode: "bücher.example.com" });
    assert.deepEqual(canonicalHostname("API.example.com"), { ascii: "api.example.com", unicode: "api.example.com" });
  });
  const bad: [string, RegExp][] = [
    ["", /required/],
    ["https://example.com", /scheme/],
    ["example.com/path", /path/],
    ["*.example.com", /wildcard/],
    ["192.0.2.1", /IP address/],
    ["[::1]", /IP address/],
    ["example.com:8080", /port/],
    ["example.com.", /dot/],
    ["a..example.com", /empty label|not a valid/],
    [`${"a".repeat(64)}.example.com`, /63/],
    [`${"a.".repeat(130)}com`, /253/],
    ["-bad.example.com", /invalid label/],
    ["bad-.example.com", /invalid label/],
    ["under score!.example.com", /not a valid|invalid label/],
    ["single", /two labels/],
    // An IP in any notation the UTS-46 / WHATWG mapping turns into an address.
    ["0xa.0.0.1", /IP address/],
    ["127.1", /IP address/],
    ["2130706433", /IP address|two labels/],
    // UTS #39: a Cyrillic "а" among Latin letters, Greek among Latin, Latin with Cyrillic in a later label.
    ["\u0430pple.com", /mixes scripts \(Cyrillic and Latin\)/],
    ["p\u0430ypal.example.com", /mixes scripts/],
    ["g\u03bfogle.com", /mixes scripts \(Greek and Latin\)/],
    ["shop.\u0430mazon.com", /mixes scripts/],
  ];
  it("accepts single-script IDNs and the CJK mixes UTS #39 allows with Latin", () => {
    for (const hostname of ["bücher.example.com", "пример.рф", "δοκιμή.gr", "例え.jp", "日本語ドメイン.jp", "한국어.kr", "mañana.example.com", "web2-東京.jp"]) {
      const result = canonicalHostname(hostname);
      assert.ok("ascii" in result, `${hostname}: ${"problem" in result ? result.problem : ""}`);
    }
  });
  for (const [input, problem] of bad) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      const result = canonicalHostname(input);
      assert.ok("problem" in result, `expected a problem for ${input}`);
      assert.match(result.problem, problem);
    });
  }
});
