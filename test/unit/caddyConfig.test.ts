// The Router's pure parts: gateway configs → a region's desired state (weights, longest path
// first, the readiness gate), that state → a Caddy config, and the coalescing apply queue.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { GatewayConfigSchema, RouteProtocol, type GatewayConfig } from "../../src/gen/ctrl/v1/resources_pb.js";
import { renderCaddyConfig, renderFrontConfig, weightedUpstreams, FRONT_MARKER_ID, MARKER_ID, type CaddyRenderOptions, type FrontRenderOptions } from "../../src/router/caddy/caddyConfig.js";
import { hostRoute, regionState } from "../../src/router/regionRoutes.js";
import { ApplyQueue } from "../../src/router/applyQueue.js";
import type { ApplyOutcome, Router, RouterState } from "../../src/router/router.js";

const OPTS: CaddyRenderOptions = {
  adminListen: "127.0.0.1:2019",
  httpListen: "127.0.0.1:8080",
  httpsListen: "127.0.0.1:8444",
  acmeUpstream: "127.0.0.1:7080",
  gracePeriod: "10s",
};

const FRONT: FrontRenderOptions = {
  adminListen: "127.0.0.1:2020",
  httpListen: "127.0.0.1:8088",
  httpsListen: "127.0.0.1:8443",
  routingHttp: "127.0.0.1:8080",
  routingHttps: "127.0.0.1:8444",
  certificateUrl: "http://127.0.0.1:7443/certificate",
  gracePeriod: "10s",
};

function config(hostname: string, deploymentId: string, addresses: string[], extra: MessageInitShape<typeof GatewayConfigSchema> = {}): GatewayConfig {
  return create(GatewayConfigSchema, { hostname, deploymentId, upstreams: addresses.map((address) => ({ region: "local", address })), ...extra });
}

type J = Record<string, any>;
const serverRoutes = (c: J, server = "switchyard"): J[] => c.apps.http.servers[server].routes;
const hostRouteOf = (c: J, hostname: string): J => serverRoutes(c).find((r) => r.match?.[0]?.host?.[0] === hostname)!;

describe("region routes", () => {
  it("keeps only the region's upstreams; no rules = everything to the hostname's deployment", () => {
    const route = hostRoute(
      create(GatewayConfigSchema, { hostname: "a.example.com", deploymentId: "d1", upstreams: [{ region: "local", address: "127.0.0.1:1" }, { region: "eu", address: "10.0.0.1:1" }] }),
      "local",
    );
    assert.deepEqual(route.paths, [{ path: "/", stripPrefix: false, splits: [{ deploymentId: "d1", weight: 100, upstreams: ["127.0.0.1:1"] }] }]);
  });

  it("rules become per-path splits, longest path first, the rest of a path on the hostname's deployment", () => {
    const route = hostRoute(
      config("a.example.com", "d1", ["127.0.0.1:1"], {
        rules: [
          { routeId: "r1", path: "/api", deploymentId: "d2", weight: 20, stripPrefix: true, protocol: RouteProtocol.HTTP, upstreams: [{ region: "local", address: "127.0.0.1:2" }] },
          { routeId: "r2", path: "/api/v2", deploymentId: "d3", weight: 100, stripPrefix: true, protocol: RouteProtocol.HTTP, upstreams: [{ region: "local", address: "127.0.0.1:3" }] },
          { routeId: "r3", path: "/raw", deploymentId: "d3", weight: 50, protocol: RouteProtocol.TCP, upstreams: [] },
        ].map((r) => ({ port: 8080, ...r })),
      }),
      "local",
    );
    assert.deepEqual(route.paths.map((p) => p.path), ["/api/v2", "/api", "/"]);
    assert.deepEqual(route.paths[1]!.splits.map((s) => [s.deploymentId, s.weight]), [["d2", 20], ["d1", 80]]);
    assert.equal(route.paths[1]!.stripPrefix, false, "80 % does not strip: the larger share decides");
    assert.equal(route.paths[0]!.stripPrefix, true);
  });

  it("readiness gate: a hostname switched to a deployment with no running instance here keeps its previous routes until one runs", () => {
    const before = regionState([config("a.example.com", "v1", ["127.0.0.1:1"])], "local", 1n);
    const switched = regionState([config("a.example.com", "v2", [])], "local", 2n, new Map(before.state.hosts.map((h) => [h.hostname, h])));
    assert.deepEqual(switched.held, ["a.example.com"]);
    assert.equal(switched.state.hosts[0]!.deploymentId, "v1");
    const ready = regionState([config("a.example.com", "v2", ["127.0.0.1:2"])], "local", 3n, new Map(switched.state.hosts.map((h) => [h.hostname, h])));
    assert.deepEqual(ready.held, []);
    assert.equal(ready.state.hosts[0]!.deploymentId, "v2");
    // The same deployment losing its instances is not held (nothing else to send the traffic to).
    const stopped = regionState([config("a.example.com", "v2", [])], "local", 4n, new Map(ready.state.hosts.map((h) => [h.hostname, h])));
    assert.deepEqual(stopped.held, []);
  });
});

describe("weighted upstreams", () => {
  const count = (list: string[]) => list.reduce((m, a) => m.set(a, (m.get(a) ?? 0) + 1), new Map<string, number>());
  it("repeats each instance in proportion to its share, in the smallest whole numbers", () => {
    const list = weightedUpstreams({ path: "/", stripPrefix: false, splits: [{ deploymentId: "a", weight: 80, upstreams: ["A"] }, { deploymentId: "b", weight: 20, upstreams: ["B"] }] });
    assert.deepEqual(Object.fromEntries(count(list)), { A: 4, B: 1 });
  });
  it("divides a deployment's weight between its instances", () => {
    const list = weightedUpstreams({ path: "/", stripPrefix: false, splits: [{ deploymentId: "a", weight: 50, upstreams: ["A1", "A2"] }, { deploymentId: "b", weight: 50, upstreams: ["B"] }] });
    assert.deepEqual(Object.fromEntries(count(list)), { A1: 1, A2: 1, B: 2 });
  });
  it("a deployment without a running instance gives its share to the others; none running → no upstream", () => {
    assert.deepEqual(weightedUpstreams({ path: "/", stripPrefix: false, splits: [{ deploymentId: "a", weight: 30, upstreams: [] }, { deploymentId: "b", weight: 70, upstreams: ["B"] }] }), ["B"]);
    assert.deepEqual(weightedUpstreams({ path: "/", stripPrefix: false, splits: [{ deploymentId: "a", weight: 100, upstreams: [] }] }), []);
  });
  it("stays within 1,000 entries with awkward weights", () => {
    const list = weightedUpstreams({
      path: "/",
      stripPrefix: false,
      splits: [
        { deploymentId: "a", weight: 33, upstreams: ["A1", "A2", "A3", "A4", "A5", "A6", "A7"] },
        { deploymentId: "b", weight: 67, upstreams: ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11"] },
      ],
    });
    assert.ok(list.length <= 1100, `${list.length} entries`);
    const share = list.filter((a) => a.startsWith("A")).length / list.length;
    assert.ok(Math.abs(share - 0.33) < 0.01, `share ${share}`);
  });
});

describe("Caddy config", () => {
  const state = (hosts: RouterState["hosts"]): RouterState => ({ version: 1n, hosts });
  it("one terminal route per hostname after the ACME route, a 404 catch-all carrying the marker; persist off, automatic HTTPS off", () => {
    const { config: rendered, digest } = renderCaddyConfig(regionState([config("b.example.com", "d2", ["127.0.0.1:2"]), config("a.example.com", "d1", ["127.0.0.1:1"])], "local", 1n).state, OPTS);
    const c = rendered as J;
    assert.equal(c.admin.listen, "127.0.0.1:2019");
    assert.equal(c.admin.config.persist, false);
    assert.equal(c.apps.http.grace_period, "10s");
    const routes = serverRoutes(c);
    assert.deepEqual(routes[0].match, [{ path: ["/.well-known/acme-challenge/*"] }]);
    assert.deepEqual(routes[0].handle[0].upstreams, [{ dial: "127.0.0.1:7080" }]);
    assert.deepEqual(routes.slice(1, 3).map((r) => r.match[0].host[0]), ["a.example.com", "b.example.com"]);
    assert.ok(routes.slice(1, 3).every((r) => r.terminal === true));
    const last = routes.at(-1)!;
    assert.equal(last.match, undefined);
    assert.equal(last.handle[0].status_code, 404);
    assert.equal(last["@id"], MARKER_ID);
    assert.equal(last.group, `switchyard:${digest}`);
    assert.deepEqual(c.apps.http.servers.switchyard.automatic_https, { disable: true });
    assert.deepEqual(c.apps.http.servers.switchyard_tls.routes.map((r: J) => r.match), [undefined], "the HTTPS side routes no hostname without a certificate");
    assert.equal(c.apps.tls, undefined, "the routing Caddy has no TLS");
  });

  it("paths longest first with prefix matchers and strip_prefix; weights as repeated upstreams with round_robin; 503 with no instance", () => {
    const host: RouterState["hosts"][number] = {
      hostname: "a.example.com",
      deploymentId: "d1",
      tls: false,
      paths: [
        { path: "/api", stripPrefix: true, splits: [{ deploymentId: "d2", weight: 80, upstreams: ["127.0.0.1:2"] }, { deploymentId: "d1", weight: 20, upstreams: ["127.0.0.1:1"] }] },
        { path: "/", stripPrefix: false, splits: [{ deploymentId: "d9", weight: 100, upstreams: [] }] },
      ],
    };
    const { config: rendered } = renderCaddyConfig(state([host]), OPTS);
    const c = rendered as J;
    const sub = hostRouteOf(c, "a.example.com").handle[0];
    assert.equal(sub.handler, "subroute");
    const [api, root] = sub.routes;
    assert.deepEqual(api.match, [{ path: ["/api", "/api/*"] }]);
    assert.deepEqual(api.handle[0], { handler: "rewrite", strip_path_prefix: "/api" });
    const proxy = api.handle[1];
    assert.equal(proxy.load_balancing.selection_policy.policy, "round_robin");
    assert.deepEqual(proxy.upstreams.map((u: J) => u.dial).sort(), ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:2", "127.0.0.1:2", "127.0.0.1:2"]);
    assert.equal(root.match, undefined);
    assert.equal(root.handle[0].status_code, 503);
  });

  it("TLS hostnames get the routing Caddy's HTTPS-side server (plain HTTP on loopback, no TLS app there)", () => {
    const { config: rendered } = renderCaddyConfig(regionState([config("a.example.com", "d1", ["127.0.0.1:1"], { certificateId: "crt_1" }), config("b.example.com", "d1", ["127.0.0.1:1"])], "local", 1n).state, OPTS);
    const c = rendered as J;
    const tls = c.apps.http.servers.switchyard_tls;
    assert.deepEqual(tls.listen, ["127.0.0.1:8444"]);
    assert.deepEqual(tls.automatic_https, { disable: true });
    assert.equal(tls.tls_connection_policies, undefined);
    assert.equal(c.apps.tls, undefined);
    assert.deepEqual(tls.routes.filter((r: J) => r.match).map((r: J) => r.match[0].host[0]), ["a.example.com"]);
  });

  it("the front: one catch-all forward per listener to the routing Caddy, Host kept; certificates from the switchyard endpoint, never from ACME or the config; independent of routing", () => {
    const { config: rendered, digest } = renderFrontConfig(FRONT);
    const c = rendered as J;
    const { front, front_tls } = c.apps.http.servers;
    assert.deepEqual(front.listen, ["127.0.0.1:8088"]);
    assert.deepEqual(front_tls.listen, ["127.0.0.1:8443"]);
    assert.deepEqual(front_tls.tls_connection_policies, [{}]);
    for (const [server, dial] of [[front, "127.0.0.1:8080"], [front_tls, "127.0.0.1:8444"]] as const) {
      assert.equal(server.routes.length, 1);
      assert.equal(server.routes[0].match, undefined, "every request");
      const proxy = server.routes[0].handle[0];
      assert.equal(proxy.handler, "reverse_proxy");
      assert.deepEqual(proxy.upstreams, [{ dial }]);
      assert.equal(proxy.headers, undefined, "Host and the X-Forwarded-* Caddy adds are left as they are");
      assert.ok(proxy.load_balancing.try_duration, "dial failures during a routing reload are retried");
    }
    assert.equal(front.routes[0]["@id"], FRONT_MARKER_ID);
    assert.equal(front.routes[0].group, `switchyard:${digest}`);
    assert.deepEqual(c.apps.tls.automation.policies, [{ get_certificate: [{ via: "http", url: FRONT.certificateUrl }] }]);
    assert.deepEqual(c.admin, { listen: "127.0.0.1:2020", config: { persist: false } });
    assert.ok(!JSON.stringify(c).includes("BEGIN"), "no PEM in the config");
    assert.ok(!JSON.stringify(c).includes("acme") && !JSON.stringify(c).includes("issuers"), "no issuer");
    assert.equal(renderFrontConfig({ ...FRONT }).digest, digest);
  });

  it("the digest follows the content only", () => {
    const one = renderCaddyConfig(regionState([config("a.example.com", "d1", ["127.0.0.1:1"])], "local", 1n).state, OPTS);
    const again = renderCaddyConfig(regionState([config("a.example.com", "d1", ["127.0.0.1:1"])], "local", 7n).state, OPTS);
    const other = renderCaddyConfig(regionState([config("a.example.com", "d1", ["127.0.0.1:9"])], "local", 8n).state, OPTS);
    assert.equal(one.digest, again.digest, "the version alone changes nothing");
    assert.notEqual(one.digest, other.digest);
  });
});

describe("apply queue", () => {
  class FakeDataPlane implements Router {
    readonly name = "recording";
    applies: bigint[] = [];
    fail = 0;
    inFlight = 0;
    maxInFlight = 0;
    last = "";
    async apply(state: RouterState): Promise<ApplyOutcome> {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      await new Promise((r) => setTimeout(r, 20));
      this.inFlight--;
      if (this.fail > 0) {
        this.fail--;
        throw new Error("refused");
      }
      const key = JSON.stringify(state.hosts);
      if (key === this.last) return "unchanged";
      this.last = key;
      this.applies.push(state.version);
      return "applied";
    }
    async inSync() {
      return true;
    }
  }
  const s = (version: number, n = version): RouterState => ({ version: BigInt(version), hosts: [{ hostname: `h${n}`, deploymentId: "d", paths: [], tls: false }] });

  it("a burst costs one apply; one in flight; in version order; unchanged not applied; a failure retried and reported", async () => {
    const plane = new FakeDataPlane();
    const failures: number[] = [];
    const queue = new ApplyQueue(plane, { debounceMs: 10, onApplied: () => undefined, onFailure: (_e, attempt) => failures.push(attempt) });
    for (let v = 1; v <= 20; v++) queue.offer(s(v));
    await queue.applied(20n);
    assert.deepEqual(plane.applies, [20n], "twenty offers, one apply of the newest");
    queue.offer(s(21));
    queue.offer(s(5)); // older than what is queued: ignored
    await queue.applied(21n);
    queue.offer(s(22, 21)); // same content, newer version
    await queue.applied(22n);
    assert.deepEqual(plane.applies, [20n, 21n]);
    plane.fail = 2;
    queue.offer(s(23));
    await queue.applied(23n);
    assert.deepEqual(failures, [1, 2]);
    assert.deepEqual(plane.applies, [20n, 21n, 23n]);
    assert.equal(plane.maxInFlight, 1);
    await queue.close();
  });
});
