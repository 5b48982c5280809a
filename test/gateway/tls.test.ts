// TLS from the first request: a verified custom domain gets a Pebble-issued certificate (its
// HTTP-01 challenge answered through Caddy, which forwards /.well-known/acme-challenge/ to
// switchyard), and Caddy serves it at handshake time from switchyard (tls.get_certificate.http
// → the gateway's certificate endpoint → GetGatewayCertificate): verified against Pebble's root
// by SNI, never in Caddy's config or autosave. The front Caddy terminates TLS and is never
// reloaded by a routing change, so a deploy under HTTPS load fails no request, on keep-alive
// connections or new ones; a removed domain leaves the data plane (route and certificate).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ClusterService } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { DnsRecordPurpose, NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { CertificateStatus, ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startAgent, startGateway, type Agent, type Gateway } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";
import { getVia, startLoad, versionVia } from "../support/trafficLoad.js";
import { until } from "../support/until.js";

describe("gateway: TLS from switchyard at handshake", () => {
  let app: App;
  let agent: Agent;
  let gateway: Gateway;
  let fixture: ProjectFixture;
  let root: string;
  before(async () => {
    app = await startApp({ pebble: true, caddy: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms", SWITCHYARD_STANDBY_GRACE: "1h" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
    // Caddy's HTTP server on the port Pebble validates HTTP-01 on: the challenge goes through the data plane.
    gateway = await startGateway({ url: app.switchyard.url, token: app.tokens.agents.local!, caddy: app.stack.caddy!, httpPort: app.stack.pebble!.httpPort });
    fixture = await createProject(app, "acme");
    root = await app.stack.pebble!.issuerRootPem();
  });
  after(async () => {
    await gateway?.stop();
    await agent?.stop();
    await app?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  async function ready(version: string) {
    const created = await deployHello(app, fixture, { env: { APP_VERSION: version } });
    const done = await waitForStatus(app, "acme", created.id, 30_000);
    assert.equal(done.status, DeploymentStatus.READY, done.errorMessage);
    return done;
  }
  async function securedDomain(hostname: string) {
    const domain = (await network().addDomain({ workspaceId: fixture.workspaceId, projectId: fixture.projectId, hostname })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    await network().verifyDomain({ domainId: domain.id });
    await until(
      `TLSReady for ${hostname}`,
      async () => {
        const { certificate } = await network().getCertificate({ lookup: { case: "domainId", value: domain.id } }).catch(() => ({ certificate: undefined }));
        if (certificate?.status === CertificateStatus.FAILED) throw new Error(`issuance failed: ${certificate?.lastError}`);
        const current = (await network().getDomain({ domainId: domain.id })).domain!;
        return current.conditions.find((c) => c.type === "TLSReady")?.status === ConditionStatus.TRUE;
      },
      60_000,
      200,
    );
    return domain;
  }

  it("serves the Pebble-issued certificate by SNI, verified against Pebble's root; the key is never in Caddy's config, autosave or the logs", async () => {
    await ready("1.0.0");
    const domain = await securedDomain("shop.example.com");
    const https = { port: gateway.httpsPort, hostname: "shop.example.com", ca: root };
    await until("shop.example.com over HTTPS through Caddy", async () => (await versionVia(https)) === "1.0.0", 20_000);

    for (const caddy of [app.stack.caddy!, gateway.front]) {
      const caddyConfig = JSON.stringify(await caddy.config());
      assert.ok(!caddyConfig.includes("PRIVATE KEY") && !caddyConfig.includes("BEGIN CERTIFICATE"), "no PEM in Caddy's config");
      assert.equal(fs.existsSync(path.join(caddy.baseDir, "config", "caddy", "autosave.json")), false, "nothing autosaved");
    }
    assert.ok(!gateway.logs(1000).includes("PRIVATE KEY") && !app.switchyard.logs(100000).includes("PRIVATE KEY"), "no key in the logs");

    // Only a region credential gets a key; a tenant token is refused.
    await assert.rejects(
      app.client(ClusterService, "acme").getGatewayCertificate({ region: "local", hostname: "shop.example.com" }),
      (error: unknown) => ConnectError.from(error).code === Code.PermissionDenied,
    );
    await assert.rejects(
      app.client(ClusterService, { token: app.tokens.agents.local! }).getGatewayCertificate({ region: "local", hostname: `nothing.example.com` }),
      (error: unknown) => ConnectError.from(error).code === Code.NotFound,
    );

    // The product's promise over HTTPS: deploy v2 (it goes live) under load, on keep-alive HTTPS
    // connections and on a new connection (a new handshake) per request: none fails. The
    // deploy reloads the routing Caddy only; handshakes happen on the front, whose config
    // (and so the context of its get_certificate.http) never retires.
    const frontConfigBefore = JSON.stringify(await gateway.front.config());
    const load = startLoad(https, { keepAliveClients: 3, newConnectionClients: 0 });
    const fresh = startLoad(https, { keepAliveClients: 0, newConnectionClients: 2 });
    await until("some load before the deploy", () => load.outcomes.length > 30 && fresh.outcomes.length > 10, 10_000);
    await ready("2.0.0");
    await until("only v2 answers", () => load.outcomes.slice(-20).length === 20 && load.outcomes.slice(-20).every((o) => o.version === "2.0.0"), 10_000);
    await until("new connections reach v2 too", () => fresh.outcomes.slice(-3).length === 3 && fresh.outcomes.slice(-3).every((o) => o.version === "2.0.0"), 10_000);
    const result = await load.stop();
    const freshResult = await fresh.stop();
    process.stdout.write(
      `# https deploy under load: keep-alive ${result.outcomes.length} requests, ${JSON.stringify(result.versions)}, ${result.failures.length} failed, ${result.absorbedRetries} absorbed by the client's retry; ` +
        `new connections ${freshResult.outcomes.length} requests, ${JSON.stringify(freshResult.versions)}, ${freshResult.failures.length} failed\n`,
    );
    const warnings = gateway.logs(2000).split("\n").filter((line) => /"level":(40|50)/.test(line)).slice(-5);
    assert.equal(result.failures.length, 0, `${[...new Set(result.failures.map((f) => f.error))].join("; ")}\ngateway warnings:\n${warnings.join("\n")}`);
    assert.equal(freshResult.failures.length, 0, `${freshResult.failures.length} of ${freshResult.outcomes.length} new connections failed: ${[...new Set(freshResult.failures.map((f) => f.error))].join("; ")}\ngateway warnings:\n${warnings.join("\n")}`);
    assert.equal(JSON.stringify(await gateway.front.config()), frontConfigBefore, "the deploy did not touch the front's config");

    // Removed: its route and its certificate leave the data plane.
    await network().removeDomain({ domainId: domain.id });
    await until("the removed hostname to answer 404", async () => (await getVia({ port: gateway.httpPort, hostname: "shop.example.com" })).status === 404, 20_000);
    await until(
      "the TLS handshake for the removed hostname to fail",
      async () =>
        getVia(https).then(
          () => false,
          () => true,
        ),
      20_000,
    );
  });
});
