import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, parseDuration } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startSwitchyard } from "../../src/serve.js";
import { problemsOf } from "../support/configProblems.js";

const TOKENS = { SWITCHYARD_API_TOKENS: "acme=0123456789abcdef0123" };

describe("configuration", () => {
  it("has loopback defaults and needs only tokens", () => {
    const config = loadConfig(TOKENS);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.apiPort, 7080);
    assert.equal(new URL(config.restateIngressUrl).port, "8080", "Restate's standard ingress port, not the API's");
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

  it("reads the isolation settings: outbound ranges, Restate retries, listener timeouts", () => {
    const config = loadConfig({ ...TOKENS, SWITCHYARD_OUTBOUND_ALLOWED_RANGES: "127.0.0.0/8, ::1/128", SWITCHYARD_RESTATE_MAX_ATTEMPTS: "5", SWITCHYARD_API_HEADER_TIMEOUT: "2s" });
    assert.equal(config.outboundAllowedRanges.cidrs.length, 2);
    assert.deepEqual(config.restateRetry, { maxAttempts: 5, initialIntervalMs: 100, maxIntervalMs: 60_000 });
    assert.equal(config.apiHeaderTimeoutMs, 2000);
    const defaults = loadConfig(TOKENS);
    assert.deepEqual(defaults.outboundAllowedRanges.cidrs, [], "public addresses only unless the operator says otherwise");
    assert.equal(defaults.restateAllowUnsigned, false);
    assert.match(problemsOf({ ...TOKENS, SWITCHYARD_OUTBOUND_ALLOWED_RANGES: "10.0.0.0/99" })[0]!, /^SWITCHYARD_OUTBOUND_ALLOWED_RANGES: /);
    assert.match(problemsOf({ ...TOKENS, SWITCHYARD_RESTATE_MAX_ATTEMPTS: "0" })[0]!, /^SWITCHYARD_RESTATE_MAX_ATTEMPTS: /);
  });

  it("refuses to serve an endpoint that would accept unsigned Restate requests, unless told to", async () => {
    await assert.rejects(startSwitchyard(loadConfig(TOKENS), createLogger("silent")), (error: unknown) => error instanceof ConfigError && /SWITCHYARD_RESTATE_IDENTITY_KEYS/.test(error.message));
  });

  it("parses durations", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("1.5h"), undefined);
  });
});
