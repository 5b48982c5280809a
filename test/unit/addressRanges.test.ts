import { test } from "node:test";
import assert from "node:assert/strict";
import { judgeAddress, parseAddressRanges, parseIpLiteral, type AddressRanges } from "../../src/domain/addressRanges.js";

function ranges(text: string): AddressRanges {
  const parsed = parseAddressRanges(text);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed;
}

test("only public unicast addresses pass without operator ranges", () => {
  for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]) {
    assert.deepEqual(judgeAddress(address), { allowed: true }, address);
  }
  const refused: [string, string][] = [
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["fe80::1", "linkLocal"],
    ["fd00::1", "uniqueLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
  ];
  for (const [address, kind] of refused) {
    const verdict = judgeAddress(address);
    assert.equal(verdict.allowed, false, address);
    assert.match((verdict as { reason: string }).reason, new RegExp(`a ${kind} address`), address);
  }
});

test("operator ranges allow exactly what they name", () => {
  const loopback = ranges("127.0.0.0/8, ::1");
  assert.deepEqual(judgeAddress("127.0.0.1", loopback), { allowed: true });
  assert.deepEqual(judgeAddress("::1", loopback), { allowed: true });
  assert.deepEqual(judgeAddress("::ffff:127.0.0.2", loopback), { allowed: true });
  const refused = judgeAddress("10.0.0.1", loopback);
  assert.equal(refused.allowed, false);
  assert.match((refused as { reason: string }).reason, /allowed ranges: 127\.0\.0\.0\/8, ::1/);
  assert.deepEqual(judgeAddress("10.9.9.9", ranges("10.0.0.0/8")), { allowed: true });
  assert.equal(judgeAddress("10.0.9.9", ranges("10.0.0.0/16")).allowed, true);
  assert.equal(judgeAddress("10.1.9.9", ranges("10.0.0.0/16")).allowed, false);
});

test("range lists that do not parse are reported", () => {
  assert.deepEqual(parseAddressRanges(""), { text: "", cidrs: [] });
  assert.match((parseAddressRanges("127.0.0.0/8,nonsense") as { problem: string }).problem, /"nonsense" is not an IP address/);
  assert.match((parseAddressRanges("10.0.0.0/33") as { problem: string }).problem, /10\.0\.0\.0\/33/);
});

test("IP literals are strict: no shorthand, hex or octal forms", () => {
  assert.equal(parseIpLiteral("127.0.0.1")?.toString(), "127.0.0.1");
  assert.equal(parseIpLiteral("[::1]")?.toString(), "::1");
  assert.equal(parseIpLiteral("::ffff:10.0.0.1")?.toString(), "10.0.0.1");
  for (const sloppy of ["127.1", "0x7f000001", "0x7f.0.0.1", "017700000001", "2130706433", "example.invalid", ""]) {
    assert.equal(parseIpLiteral(sloppy), undefined, sloppy);
  }
});
