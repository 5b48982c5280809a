import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, parseDuration } from "../../src/config.js";

const TOKENS = { SWITCHYARD_API_TOKENS: "acme=0123456789abcdef0123" };

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return [];
}

describe("configuration", () => {
  it("has loopback defaults and needs only tokens", () => {
    const config = loadConfig(TOKENS);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.apiPort, 8080);
    assert.deepEqual(config.apiTokens, [{ tenantId: "acme", token: "0123456789abcdef0123" }]);
    assert.deepEqual(config.restateIdentityKeys, []);
    assert.equal(config.standbyGraceMs, 30 * 60_000);
  });

  it("reports every bad value at once, each naming its variable", () => {
    const problems = problemsOf({
      SWITCHYARD_PORT: "80a",
      DATABASE_URL: "postgres://x/y",
      SWITCHYARD_STANDBY_GRACE: "soon",
      SWITCHYARD_RESTATE_IDENTITY_KEYS: "not-a-key",
      SWITCHYARD_LOG_LEVEL: "loud",
    });
    const named = problems.map((p) => p.split(":")[0]);
    assert.deepEqual(named.sort(), [
      "DATABASE_URL",
      "SWITCHYARD_API_TOKENS",
      "SWITCHYARD_LOG_LEVEL",
      "SWITCHYARD_PORT",
      "SWITCHYARD_RESTATE_IDENTITY_KEYS",
      "SWITCHYARD_STANDBY_GRACE",
    ]);
  });

  it("never echoes a database password", () => {
    const [problem] = problemsOf({ ...TOKENS, DATABASE_URL: "redis://root:s3cret@db:6379/0" });
    assert.ok(problem);
    assert.doesNotMatch(problem, /s3cret/);
  });

  it("accepts identity keys as restate-server prints them", () => {
    const key = "publickeyv1_6QCEdfohUXxuSgkty6czef2K5mwmWRgm3Yuoxe5mxdja";
    assert.deepEqual(loadConfig({ ...TOKENS, SWITCHYARD_RESTATE_IDENTITY_KEYS: ` ${key} ,` }).restateIdentityKeys, [key]);
  });

  it("refuses short, reused and malformed tokens", () => {
    assert.match(problemsOf({ SWITCHYARD_API_TOKENS: "acme=short" })[0]!, /shorter than 16/);
    assert.match(problemsOf({ SWITCHYARD_API_TOKENS: "a=0123456789abcdef,b=0123456789abcdef" })[0]!, /used twice/);
    assert.match(problemsOf({ SWITCHYARD_API_TOKENS: "Acme=0123456789abcdef" })[0]!, /entry 1/);
  });

  it("reads the certificate lifecycle settings", () => {
    const config = loadConfig({ ...TOKENS, SWITCHYARD_ACME_ORDER_BUDGET: "120/1m", SWITCHYARD_CERT_RETRY_BACKOFF: "1s,2s", SWITCHYARD_CERT_EXPIRY_WARNINGS: "14d,3d" });
    assert.deepEqual(config.acmeOrderBudget, { orders: 120, windowMs: 60_000 });
    assert.deepEqual(config.certRetryBackoffMs, [1000, 2000]);
    assert.deepEqual(config.certExpiryWarningsMs, [14 * 86_400_000, 3 * 86_400_000]);
    assert.deepEqual(loadConfig(TOKENS).acmeOrderBudget, { orders: 250, windowMs: 3 * 3_600_000 });
    assert.equal(loadConfig(TOKENS).acmeAccount, "workspace");
    assert.equal(loadConfig({ ...TOKENS, SWITCHYARD_ACME_ACCOUNT: "platform" }).acmeAccount, "platform");
    assert.match(problemsOf({ ...TOKENS, SWITCHYARD_ACME_ACCOUNT: "tenant" })[0]!, /^SWITCHYARD_ACME_ACCOUNT: "tenant" must be workspace or platform/);
    for (const bad of ["0/1h", "100", "100/soon", "/1h"]) {
      assert.match(problemsOf({ ...TOKENS, SWITCHYARD_ACME_ORDER_BUDGET: bad })[0]!, /^SWITCHYARD_ACME_ORDER_BUDGET: .* is not <orders>\/<duration>/);
    }
  });

  it("parses durations", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("1.5h"), undefined);
  });
});
