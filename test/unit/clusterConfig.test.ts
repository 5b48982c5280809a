// The cluster settings of src/config.ts: region credentials, instance address ranges, the feed, retention.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config.js";
import { problemsOf } from "../support/configProblems.js";

const TENANT_TOKEN = "0123456789abcdef0123";
const BASE = { SWITCHYARD_API_TOKENS: `acme=${TENANT_TOKEN}`, SWITCHYARD_REGIONS: "local,eu" };

describe("cluster configuration", () => {
  it("has defaults: no agents, loopback instance ranges, a 25 ms feed poll, retention windows", () => {
    const config = loadConfig(BASE);
    assert.deepEqual(config.agentTokens, []);
    assert.equal(config.instanceAddressRanges.text, "127.0.0.0/8,::1");
    assert.equal(config.feedPollMs, 25);
    assert.equal(config.feedStreamBuffer, 1000);
    assert.deepEqual(config.retention, { changesMs: 7 * 86_400_000, eventsMs: 30 * 86_400_000, operationsMs: 30 * 86_400_000, intervalMs: 3_600_000 });
  });

  it("reads region=token pairs, several per region allowed", () => {
    const config = loadConfig({ ...BASE, SWITCHYARD_AGENT_TOKENS: "local=aaaaaaaaaaaaaaaa1, eu=bbbbbbbbbbbbbbbb2,local=cccccccccccccccc3" });
    assert.deepEqual(config.agentTokens, [
      { region: "local", token: "aaaaaaaaaaaaaaaa1" },
      { region: "eu", token: "bbbbbbbbbbbbbbbb2" },
      { region: "local", token: "cccccccccccccccc3" },
    ]);
  });

  it("refuses each bad agent token with its own message", () => {
    const cases: [string, RegExp][] = [
      ["mars=aaaaaaaaaaaaaaaa1", /region "mars" \(entry 1\) is not in SWITCHYARD_REGIONS \(local, eu\)/],
      ["local=short", /the token of region "local" is shorter than 16 characters/],
      ["aaaaaaaaaaaaaaaa1", /entry 1 must be region=token/],
      ["local=aaaaaaaaaaaaaaaa1,eu=aaaaaaaaaaaaaaaa1", /the token of region "eu" is used twice/],
      [`local=${TENANT_TOKEN}`, /the token of region "local" is also a tenant's token in SWITCHYARD_API_TOKENS/],
    ];
    for (const [value, message] of cases) {
      const problems = problemsOf({ ...BASE, SWITCHYARD_AGENT_TOKENS: value });
      assert.equal(problems.length, 1, `${value}: ${problems.join("; ")}`);
      assert.match(problems[0]!, /^SWITCHYARD_AGENT_TOKENS: /);
      assert.match(problems[0]!, message);
    }
  });

  it("refuses bad instance ranges, feed and retention settings, each naming its variable", () => {
    const problems = problemsOf({
      ...BASE,
      SWITCHYARD_INSTANCE_ADDRESS_RANGES: "10.0.0.0/8,not-a-range",
      SWITCHYARD_FEED_POLL: "1ms",
      SWITCHYARD_FEED_STREAM_BUFFER: "0",
      SWITCHYARD_RETENTION_CHANGES: "forever",
      SWITCHYARD_RETENTION_OPERATIONS: "2h",
    });
    assert.deepEqual(problems.map((p) => p.split(":")[0]).sort(), [
      "SWITCHYARD_FEED_POLL",
      "SWITCHYARD_FEED_STREAM_BUFFER",
      "SWITCHYARD_INSTANCE_ADDRESS_RANGES",
      "SWITCHYARD_RETENTION_CHANGES",
      "SWITCHYARD_RETENTION_OPERATIONS",
    ]);
    assert.match(problems.find((p) => p.startsWith("SWITCHYARD_RETENTION_OPERATIONS"))!, /at least 1d/);
  });

  it("takes the operator's cluster network as instance ranges", () => {
    const config = loadConfig({ ...BASE, SWITCHYARD_INSTANCE_ADDRESS_RANGES: "10.20.0.0/16, fd00::/8" });
    assert.equal(config.instanceAddressRanges.cidrs.length, 2);
  });
});
