import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAddressRanges, type AddressRanges } from "../../src/domain/addressRanges.js";
import { checkInstanceAddress } from "../../src/domain/instanceAddress.js";

const ranges = (text: string) => parseAddressRanges(text) as AddressRanges;

describe("instance addresses", () => {
  it("accepts IP literal and port inside the configured ranges", () => {
    const loopback = ranges("127.0.0.0/8,::1");
    for (const address of ["127.0.0.1:8080", "127.9.9.9:1", "[::1]:65535", "[::ffff:127.0.0.1]:80"]) {
      assert.deepEqual(checkInstanceAddress(address, loopback), { ok: true }, address);
    }
    const cluster = ranges("10.20.0.0/16,fd00::/8");
    assert.deepEqual(checkInstanceAddress("10.20.3.4:8080", cluster), { ok: true });
    assert.deepEqual(checkInstanceAddress("[fd00::5]:8080", cluster), { ok: true });
  });

  it("refuses anything else with the reason", () => {
    const cluster = ranges("10.20.0.0/16");
    const refused: [string, RegExp][] = [
      ["10.21.0.1:8080", /outside the instance address ranges \(10\.20\.0\.0\/16\)/],
      ["127.0.0.1:8080", /outside/],
      ["[::ffff:127.0.0.1]:80", /127\.0\.0\.1 is outside/],
      ["10.20.0.1:0", /host:port/],
      ["10.20.0.1:65536", /port 65536 is not 1-65535/],
      ["10.20.0.1", /host:port/],
      ["10.20.1:80", /host:port/],
      ["010.20.0.1:80", /not an IP address/],
      ["host.internal:80", /host:port/],
      ["[10.20.0.1]:80", /not an IP address/],
      ["[fd00::1:80", /host:port/],
    ];
    for (const [address, reason] of refused) {
      const verdict = checkInstanceAddress(address, cluster);
      assert.equal(verdict.ok, false, address);
      assert.match((verdict as { problem: string }).problem, reason, address);
    }
  });
});
