// The gateway with real processes: switchyard, the agent running the sample app, `switchyard
// gateway` driving a real Caddy. Traffic really switches: a deploy and a rollback under steady
// load (keep-alive and new connections, through the front Caddy) fail no request; a gateway
// SIGKILL resumes; a routing or front Caddy restarted empty gets its config back; weights split
// traffic as configured.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { RouteProtocol } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startAgent, startGateway, type Agent, type Gateway } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { appProcesses } from "../support/appProcesses.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";
import { scrape, valueOf } from "../support/metricsText.js";
import { getVia, startLoad, versionVia, type LoadResult, type LoadTarget } from "../support/trafficLoad.js";
import { until } from "../support/until.js";

const GRACE_MS = 4_000;
const APEX = "switchyard.test-apex.dev";

describe("gateway: traffic through Caddy", () => {
  let app: App;
  let agent: Agent;
  let gateway: Gateway;
  before(async () => {
    app = await startApp({ caddy: true, env: { SWITCHYARD_STANDBY_GRACE: `${GRACE_MS}ms` } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
    gateway = await startGateway({ url: app.switchyard.url, token: app.tokens.agents.local!, caddy: app.stack.caddy! });
  });
  after(async () => {
    await gateway?.stop();
    await agent?.stop();
    await app?.stop();
  });

  const liveHost = (fixture: ProjectFixture) => `${fixture.projectSlug}-${fixture.workspaceSlug}.${APEX}`;
  const target = (hostname: string): LoadTarget => ({ port: gateway.httpPort, hostname });

  async function ready(fixture: ProjectFixture, version: string, environment?: string) {
    const created = await deployHello(app, fixture, { env: { APP_VERSION: version }, ...(environment ? { environment } : {}) });
    const done = await waitForStatus(app, fixture.tenant, created.id, 30_000);
    assert.equal(done.status, DeploymentStatus.READY, done.errorMessage);
    return done;
  }

  function summary(result: LoadResult) {
    return `${result.outcomes.length} requests, versions ${JSON.stringify(result.versions)}, ${result.failures.length} failed (${[...new Set(result.failures.map((f) => f.error))].slice(0, 5).join("; ")}), ${result.absorbedRetries} absorbed by the client's retry`;
  }

  it("serves the live deployment by Host header and 404 for an unknown host", async () => {
    const fixture = await createProject(app);
    await ready(fixture, "1.0.0");
    await until("the live hostname to answer through Caddy", async () => (await versionVia(target(liveHost(fixture)))) === "1.0.0", 20_000);
    const unknown = await getVia(target(`nobody.${APEX}`));
    assert.equal(unknown.status, 404);
    // The gateway's own /metrics: the applies that made it serve, and the hostnames it routes.
    const samples = await scrape(gateway.metricsAddress);
    assert.ok(valueOf(samples, "switchyard_gateway_apply_duration_seconds_count", { adapter: "caddy", outcome: "applied" }) > 0);
    assert.ok(valueOf(samples, "switchyard_gateway_routes") > 0);
    assert.ok(valueOf(samples, "switchyard_gateway_watch_connects_total", { mode: "bootstrap" }) >= 1);
  });

  it("a deploy that goes live and a rollback under steady load fail no request; every answer is v1 or v2; the previous live stops only after the grace", async () => {
    const fixture = await createProject(app);
    const v1 = await ready(fixture, "1.0.0");
    const host = target(liveHost(fixture));
    await until("v1 through Caddy", async () => (await versionVia(host)) === "1.0.0", 20_000);

    const load = startLoad(host);
    await until("some load before the deploy", () => load.outcomes.length > 50, 10_000);
    const created = await deployHello(app, fixture, { env: { APP_VERSION: "2.0.0" } });
    const v2 = await waitForStatus(app, fixture.tenant, created.id, 30_000);
    assert.equal(v2.status, DeploymentStatus.READY, v2.errorMessage);
    const liveAt = Date.now(); // the deploy's activate (the promote) has returned
    await until("only v2 answers", () => load.outcomes.slice(-20).length === 20 && load.outcomes.slice(-20).every((o) => o.version === "2.0.0"), 10_000);
    const lastV1 = Math.max(...load.outcomes.filter((o) => o.version === "1.0.0").map((o) => o.wall));
    const propagationMs = Math.max(0, lastV1 - liveAt);
    const deployed = await load.stop();
    process.stdout.write(`# deploy under load: ${summary(deployed)}; last v1 answer ${propagationMs} ms after the deploy was live\n`);
    assert.equal(deployed.failures.length, 0, summary(deployed));
    assert.deepEqual(Object.keys(deployed.versions).sort(), ["1.0.0", "2.0.0"]);
    assert.ok(propagationMs < 2_000, `v1 still answered ${propagationMs} ms after the deploy was live`);
    assert.ok(appProcesses(v1.id).length > 0, "the previous live still runs within the grace period");

    // Rollback under load: back to v1 (woken from standby if the grace has passed) with no failure.
    await until("v1 to go to standby after the grace", () => appProcesses(v1.id).length === 0, GRACE_MS + 15_000);
    const again = startLoad(host);
    await until("some load before the rollback", () => again.outcomes.length > 50, 10_000);
    const { state } = await app.client(DeployService).rollback({ deploymentId: v1.id });
    const rollbackAt = Date.now(); // the Rollback RPC has returned
    assert.equal(state?.liveDeploymentId, v1.id);
    await until("only v1 answers", () => again.outcomes.slice(-20).length === 20 && again.outcomes.slice(-20).every((o) => o.version === "1.0.0"), 10_000);
    const rolledBack = await again.stop();
    const rollbackPropagationMs = Math.max(0, Math.max(...rolledBack.outcomes.filter((o) => o.version === "2.0.0").map((o) => o.wall)) - rollbackAt);
    process.stdout.write(`# rollback under load: ${summary(rolledBack)}; last v2 answer ${rollbackPropagationMs} ms after Rollback returned\n`);
    assert.ok(rollbackPropagationMs < 2_000, `v2 still answered ${rollbackPropagationMs} ms after the rollback returned`);
    assert.equal(rolledBack.failures.length, 0, summary(rolledBack));
    assert.ok(Object.keys(rolledBack.versions).every((v) => v === "1.0.0" || v === "2.0.0"));
    assert.ok(appProcesses(v2.id).length > 0, "v2 keeps running during the grace period");
    await until("v2 to stop after the grace", () => appProcesses(v2.id).length === 0, GRACE_MS + 15_000);
  });

  it("a gateway SIGKILLed resumes from its version and serves the same config; a routing or front Caddy restarted empty gets its config again", async () => {
    const fixture = await createProject(app);
    await ready(fixture, "1.0.0");
    const host = target(liveHost(fixture));
    await until("v1 through Caddy", async () => (await versionVia(host)) === "1.0.0", 20_000);
    await until("state.json to hold the applied version", () => gateway.appliedVersion() > 0n, 10_000);

    await gateway.kill();
    assert.equal(await versionVia(host), "1.0.0", "Caddy keeps serving while the gateway is down");
    const other = await createProject(app);
    await ready(other, "3.0.0"); // a change the gateway was not there to see
    const savedVersion = gateway.appliedVersion();
    await gateway.restart();
    await until("the change made while the gateway was down", async () => (await versionVia(target(liveHost(other)))) === "3.0.0", 20_000);
    assert.equal(await versionVia(host), "1.0.0");
    const resumed = gateway.logs(200).split("\n").filter((line) => line.includes("watching gateway configs: resume"));
    assert.ok(resumed.at(-1)?.includes(`"fromVersion":"${savedVersion}"`), `resumed from the saved version ${savedVersion}: ${resumed.at(-1)}`);
    // state.json is written right after Caddy took the config, so it may trail what Caddy serves by a moment.
    await until("state.json to move past the saved version", () => gateway.appliedVersion() > savedVersion, 10_000);

    const caddy = app.stack.caddy!;
    await caddy.kill();
    await caddy.restart(); // back with the harness's empty config
    await until("the full state re-applied to the restarted Caddy", async () => (await versionVia(host)) === "1.0.0" && (await versionVia(target(liveHost(other)))) === "3.0.0", 20_000);
    assert.match(gateway.logs(200), /no longer serves the applied config/);

    // The front (client listeners) restarted empty gets its config again the same way.
    await gateway.front.kill();
    await gateway.front.restart(); // back with the harness's boot config: a 404 server, no forward
    await until("the front's config re-applied to the restarted front", async () => (await versionVia(host)) === "1.0.0" && (await versionVia(target(liveHost(other)))) === "3.0.0", 20_000);
  });

  it("weighted split: 80/20 between two deployments over 1,000 requests, within 2 percentage points", async () => {
    const fixture = await createProject(app, "acme", ["staging"]);
    const main = await ready(fixture, "1.0.0");
    const canary = await ready(fixture, "9.0.0", "staging");
    const hostname = liveHost(fixture);
    await app.client(NetworkService).addRoute({ projectId: fixture.projectId, hostname, path: "/", deploymentId: canary.id, port: 8080, protocol: RouteProtocol.HTTP, weight: 20 });
    const host = target(hostname);
    await until("the canary to answer through Caddy", async () => (await versionVia(host)) === "9.0.0" || (await versionVia(host)) === "9.0.0", 20_000);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const version = await versionVia(host);
      counts[version ?? "failed"] = (counts[version ?? "failed"] ?? 0) + 1;
    }
    process.stdout.write(`# weighted 80/20 over 1000 requests: ${JSON.stringify(counts)}\n`);
    assert.equal(counts.failed, undefined);
    assert.ok(Math.abs((counts["9.0.0"] ?? 0) / 1000 - 0.2) <= 0.02, JSON.stringify(counts));
    assert.ok(main.id);
  });
});
