// `switchyard gateway` settings: defaults, flags over environment, and one clear problem per bad
// setting, naming its flag and variable.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/config.js";
import { gatewayConfig, type GatewayOptions } from "../../src/gateway/config.js";

const TOKEN = { SWITCHYARD_GATEWAY_TOKEN: "0123456789abcdef0123" };
const GOOD: GatewayOptions = { region: "local", caddyAdmin: "http://127.0.0.1:2019", frontAdmin: "http://127.0.0.1:2020", stateDir: "/tmp/gw" };

function problems(options: GatewayOptions, env: NodeJS.ProcessEnv = TOKEN): string[] {
  try {
    gatewayConfig(options, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("gateway configuration", () => {
  it("has defaults: caddy router, loopback listeners, the ACME upstream from --url, a 10 ms debounce, a 10 s grace", () => {
    const config = gatewayConfig({ ...GOOD, url: "http://127.0.0.1:7080/" }, TOKEN);
    assert.equal(config.router, "caddy");
    assert.equal(config.url, "http://127.0.0.1:7080");
    assert.equal(config.acmeUpstream, "127.0.0.1:7080");
    assert.equal(config.httpListen, "127.0.0.1:8088");
    assert.equal(config.routingHttpListen, "127.0.0.1:8089");
    assert.equal(config.routingHttpsListen, "127.0.0.1:8444");
    assert.equal(config.certificateListen, "127.0.0.1:0");
    assert.equal(config.debounceMs, 10);
    assert.equal(config.gracePeriodMs, 10_000);
    assert.match(config.gatewayId, /-local-gateway$/);
  });

  it("names every missing setting at once", () => {
    const found = problems({}, {});
    assert.deepEqual(
      found.map((p) => p.split(":")[0]),
      ["--region / SWITCHYARD_GATEWAY_REGION", "--caddy-admin / SWITCHYARD_GATEWAY_CADDY_ADMIN", "--front-admin / SWITCHYARD_GATEWAY_FRONT_ADMIN", "SWITCHYARD_GATEWAY_TOKEN", "--state-dir / SWITCHYARD_GATEWAY_STATE_DIR"],
    );
  });

  it("refuses each bad setting with its own message", () => {
    const cases: [GatewayOptions, RegExp][] = [
      [{ router: "nginx" }, /^--router \/ SWITCHYARD_GATEWAY_ROUTER: "nginx" is not a router of this gateway \(available: caddy\)/],
      [{ caddyAdmin: "http://192.0.2.5:2019" }, /^--caddy-admin \/ SWITCHYARD_GATEWAY_CADDY_ADMIN: .* must be on loopback/],
      [{ caddyAdmin: "not a url" }, /^--caddy-admin .*is not a URL/],
      [{ caddyAdmin: "http://127.0.0.1:2019/config" }, /^--caddy-admin .*no path/],
      [{ frontAdmin: "http://198.51.100.2:2020" }, /^--front-admin \/ SWITCHYARD_GATEWAY_FRONT_ADMIN: .* must be on loopback/],
      [{ frontAdmin: "http://127.0.0.1:2019" }, /^--front-admin .*is the routing Caddy's admin API too/],
      [{ routingHttpListen: "0.0.0.0:8089" }, /^--routing-http-listen \/ SWITCHYARD_GATEWAY_ROUTING_HTTP_LISTEN: .* must be on loopback/],
      [{ routingHttpsListen: "127.0.0.1:8088" }, /^--routing-https-listen .*is already --http-listen/],
      [{ region: "Local_1" }, /^--region .*is not a region name/],
      [{ httpListen: "8088" }, /^--http-listen \/ SWITCHYARD_GATEWAY_HTTP_LISTEN: "8088" is not host:port/],
      [{ certificateListen: "0.0.0.0:7443" }, /^--certificate-listen .*must be on loopback/],
      [{ debounce: "soon" }, /^--debounce .*is not a duration/],
      [{ gracePeriod: "2h" }, /^--grace-period .*is not a duration/],
      [{ logLevel: "loud" }, /^--log-level .*must be one of/],
    ];
    for (const [bad, message] of cases) {
      const found = problems({ ...GOOD, ...bad });
      assert.equal(found.length, 1, `${JSON.stringify(bad)}: ${found.join("; ")}`);
      assert.match(found[0]!, message);
    }
    assert.match(problems(GOOD, { SWITCHYARD_GATEWAY_TOKEN: "short" })[0]!, /^SWITCHYARD_GATEWAY_TOKEN: shorter than 16 characters/);
  });
});
