/*
 * npm run bench:gateway — the data plane: how fast a switch is felt through Caddy, and what one
 * change costs Caddy as the number of hostnames grows. Writes bench/results/gateway.json.
 *
 *   switch            Promote RPC returns → first response from the new deployment through Caddy
 *                     (a fresh connection every ~2 ms, by Host header), alternating between two
 *                     running deployments of one project: BENCH_SWITCHES (200) switches with the
 *                     stack's own hostnames (about 10) configured, then BENCH_SWITCHES_1000 (50)
 *                     with 1,000 more hostnames configured. The baseline is the Promote RPC itself
 *                     (its own p50 in the same run): the ratio is what the data plane adds.
 *   failed requests   (with the kernel's net.ipv4.tcp_migrate_req, recorded in the result: Caddy 2.6
 *                     closes a listening socket per reload) a steady load (3 keep-alive + 2 new-connection clients, test/support/
 *                     trafficLoad.ts) on the live hostname during every switch
 *   apply             CaddyRouter.apply of a state with 10 / 1,000 / 10,000 hostnames in which one
 *                     hostname changed (median of 5), straight to a Caddy of its own; the ratio is
 *                     against the 10-hostname apply. Caddy's RSS with 10,000 hostnames.
 */
import "../src/polyfill.js";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { DeployService } from "../src/gen/ctrl/v1/deploy_pb.js";
import { CaddyRouter } from "../src/router/caddy/caddyRouter.js";
import type { HostRoute, RouterState } from "../src/router/router.js";
import { loadDeploymentTarget, upsertGatewayConfigs } from "../src/routing/gatewayConfig.js";
import { startAgent, startCaddy, startGateway, LOOPBACK } from "../test/harness/index.js";
import { startApp } from "../test/support/app.js";
import { createProject, waitForStatus } from "../test/support/fixtures.js";
import { deployHello } from "../test/support/helloApp.js";
import { startLoad, versionVia } from "../test/support/trafficLoad.js";
import { report } from "./lib/report.js";
import { percentile, round, rssMb } from "./lib/stats.js";

const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 200);
const SWITCHES_1000 = Number(process.env.BENCH_SWITCHES_1000 ?? 50);
const APEX = "switchyard.test-apex.dev";

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 2): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function switches(): Promise<Record<string, number | string>> {
  const app = await startApp({ caddy: true, env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_LOG_LEVEL: "warn" } });
  const agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
  const gateway = await startGateway({ url: app.switchyard.url, token: app.tokens.agents.local!, caddy: app.stack.caddy!, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
  try {
    const fixture = await createProject(app);
    const ready = async (version: string) => {
      const created = await deployHello(app, fixture, { env: { APP_VERSION: version } });
      return waitForStatus(app, "acme", created.id, 60_000);
    };
    const a = await ready("a");
    const b = await ready("b"); // live
    const host = { port: gateway.httpPort, hostname: `${fixture.projectSlug}-${fixture.workspaceSlug}.${APEX}` };
    await until("b through Caddy", async () => (await versionVia(host)) === "b", 30_000);
    const deploy = app.client(DeployService);
    const load = startLoad(host);

    const run = async (count: number) => {
      const switchMs: number[] = [];
      const promoteMs: number[] = [];
      let live = "b";
      for (let i = 0; i < count; i++) {
        const next = live === "b" ? a : b;
        const version = live === "b" ? "a" : "b";
        const t0 = performance.now();
        await deploy.promote({ deploymentId: next.id, idempotencyKey: randomUUID() });
        const returned = performance.now();
        promoteMs.push(returned - t0);
        await until(`version ${version} through Caddy`, async () => (await versionVia(host)) === version, 10_000, 1);
        switchMs.push(performance.now() - returned);
        live = version;
      }
      return { switchMs, promoteMs };
    };

    const small = await run(SWITCHES);
    console.log(`switches with ~10 hostnames done at ${Math.round(load.outcomes.at(-1)?.at ?? 0)} ms of load, ${load.outcomes.filter((o) => o.error).length} failed so far`);
    // 1,000 more hostnames, each with a gateway config (through the feed, as the gateway would get them).
    await app.db.transaction().execute(async (trx) => {
      const target = await loadDeploymentTarget(trx, a.id);
      await upsertGatewayConfigs(trx, target, Array.from({ length: 1000 }, (_, i) => `filler-${i}.bench.example.net`), APEX);
    });
    await until("the 1,000 hostnames through Caddy", async () => (await versionVia({ port: gateway.httpPort, hostname: "filler-999.bench.example.net" })) !== undefined, 30_000, 20);
    const large = await run(SWITCHES_1000);
    const result = await load.stop();
    const reasons = new Map<string, number>();
    for (const f of result.failures) reasons.set(f.error!, (reasons.get(f.error!) ?? 0) + 1);
    if (reasons.size > 0) console.log("failed requests:", Object.fromEntries(reasons), result.failures.map((f) => `${Math.round(f.at)}ms keepAlive=${f.keepAlive}`).join(", "));
    return {
      switch_p50_ms: round(percentile(small.switchMs, 50)),
      switch_p99_ms: round(percentile(small.switchMs, 99)),
      promote_rpc_p50_ms: round(percentile(small.promoteMs, 50)),
      switch_ratio_to_promote_p50: round(percentile(small.switchMs, 50) / percentile(small.promoteMs, 50)),
      switch_1000_p50_ms: round(percentile(large.switchMs, 50)),
      switch_1000_p99_ms: round(percentile(large.switchMs, 99)),
      switches: SWITCHES,
      switches_1000: SWITCHES_1000,
      load_requests: result.outcomes.length,
      failed_requests: result.failures.length,
      absorbed_keepalive_retries: result.absorbedRetries,
    };
  } finally {
    await gateway.stop().catch(() => undefined);
    await agent.stop().catch(() => undefined);
    await app.stop();
  }
}

async function applyCurve(): Promise<Record<string, number>> {
  const caddy = await startCaddy();
  const front = await startCaddy();
  try {
    const router = new CaddyRouter({
      adminUrl: caddy.adminUrl,
      frontAdminUrl: front.adminUrl,
      httpListen: `${LOOPBACK}:${front.httpPort}`,
      httpsListen: `${LOOPBACK}:${front.httpsPort}`,
      routingHttpListen: `${LOOPBACK}:${caddy.httpPort}`,
      routingHttpsListen: `${LOOPBACK}:${caddy.httpsPort}`,
      acmeUpstream: `${LOOPBACK}:9`,
      certificateUrl: `http://${LOOPBACK}:9/certificate`,
      gracePeriod: "10s",
    });
    const host = (i: number, port: number): HostRoute => ({ hostname: `h${i}.bench.example.net`, deploymentId: `d${i}`, tls: false, paths: [{ path: "/", stripPrefix: false, splits: [{ deploymentId: `d${i}`, weight: 100, upstreams: [`127.0.0.1:${port}`] }] }] });
    const figures: Record<string, number> = {};
    let version = 1n;
    for (const n of [10, 1000, 10000]) {
      const hosts = Array.from({ length: n }, (_, i) => host(i, 20000 + (i % 1000)));
      await router.apply({ version: version++, hosts });
      const samples: number[] = [];
      for (let k = 0; k < 5; k++) {
        hosts[0] = host(0, 30000 + k + n); // one hostname changed
        const state: RouterState = { version: version++, hosts: [...hosts] };
        const t0 = performance.now();
        const outcome = await router.apply(state);
        samples.push(performance.now() - t0);
        if (outcome !== "applied") throw new Error("the changed state was not applied");
      }
      figures[`apply_ms_${n}`] = round(percentile(samples, 50));
      if (n === 10000) figures.caddy_rss_mb_10000 = await rssMb(caddy.pid);
    }
    figures.apply_ratio_10000_to_10 = round(figures.apply_ms_10000! / figures.apply_ms_10!);
    return figures;
  } finally {
    await front.stop();
    await caddy.stop();
  }
}

// Whether the kernel moves connections queued on a closing SO_REUSEPORT socket (Caddy 2.6 closes
// one per reload) to its successor: with 0 they are reset, and failed_requests shows it.
const migrateReq = (() => {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim());
  } catch {
    return -1;
  }
})();
const figures = { ...(await applyCurve()), ...(await switches()), tcp_migrate_req: migrateReq };
report("gateway", figures);
process.exit(0);
