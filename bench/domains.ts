/*
 * npm run bench:domains — custom domains at scale, on the real stack (MariaDB, restate-server,
 * switchyard serve, challtestsrv as the customers' DNS behind a counting forwarder). Writes
 * bench/results/domains.json.
 *
 *   add        5,000 AddDomain calls (16 clients): p50/p99, and p50 over the baseline (a no-op
 *              Restate call measured in the same run)
 *   dns        queries per second reaching the DNS while every pending domain is checked,
 *              against the configured budget (SWITCHYARD_DNS_QPS)
 *   verify     a TXT record published for one pending domain: the time until OwnershipVerified,
 *              against the time its next scheduled check was due plus 1 s
 */
import "../src/polyfill.js";
import { NetworkService, type Domain } from "../src/gen/ctrl/v1/network_pb.js";
import { DnsRecordPurpose } from "../src/gen/ctrl/v1/network_pb.js";
import { measureBaseline } from "./lib/baseline.js";
import { countingDnsProxy } from "./lib/dnsProxy.js";
import { report } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";
import { startApp } from "../test/support/app.js";
import { createProject } from "../test/support/fixtures.js";

const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 5000);
const CLIENTS = 16;
const DNS_QPS_BUDGET = Number(process.env.BENCH_DNS_QPS ?? 80);
const BACKOFF = "5s,15s,30s,1m,2m,5m";

const proxy = await countingDnsProxy();
const app = await startApp({
  pebble: true,
  env: {
    SWITCHYARD_LOG_LEVEL: "warn",
    SWITCHYARD_DNS_SERVERS: proxy.address,
    SWITCHYARD_DNS_QPS: String(DNS_QPS_BUDGET),
    SWITCHYARD_DNS_TIMEOUT: "1s",
    SWITCHYARD_DOMAIN_CHECK_BACKOFF: BACKOFF,
  },
});
proxy.setUpstream(app.stack.pebble!.challtestsrv.dnsPort);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  const baseline = await measureBaseline(app.db, app.stack.restate, 200, 20);
  const projects = await Promise.all(Array.from({ length: 10 }, () => createProject(app, "acme")));
  const client = app.client(NetworkService, "acme");

  console.log(`AddDomain ×${DOMAINS} (${CLIENTS} clients) …`);
  const latencies: number[] = [];
  const added: Domain[] = [];
  let next = 0;
  const addStarted = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < DOMAINS; i = next++) {
        const project = projects[i % projects.length]!;
        const started = performance.now();
        const { domain } = await client.addDomain({ workspaceId: project.workspaceId, projectId: project.projectId, hostname: `d${i}.bench-${i % 97}.example.com` });
        latencies.push(performance.now() - started);
        added.push(domain!);
      }
    }),
  );
  const addSeconds = (Date.now() - addStarted) / 1000;

  console.log("waiting until every domain has been checked once …");
  await until(
    "the first check of every domain",
    async () => {
      const row = await app.db.selectFrom("custom_domains").select((eb) => eb.fn.countAll<number>().as("n")).where("check_attempt", ">=", 1).executeTakeFirstOrThrow();
      return Number(row.n) >= DOMAINS;
    },
    30 * 60_000,
  );

  console.log("publishing one TXT record …");
  const target = added[Math.floor(added.length / 2)]!;
  const txt = target.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
  await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
  const published = Date.now();
  const due = (await app.db.selectFrom("custom_domains").select("next_check_at").where("id", "=", target.id).executeTakeFirstOrThrow()).next_check_at!;
  await until("the published domain to be verified", async () => {
    const row = await app.db.selectFrom("custom_domains").select("status").where("id", "=", target.id).executeTakeFirstOrThrow();
    return row.status === "verified";
  }, 10 * 60_000);
  const verifyAfterPublish = Date.now() - published;
  const allowed = Math.max(0, due.getTime() - published) + 1000;

  const perSecond = [...proxy.perSecond().values()];
  report("domains", {
    pending_domains: DOMAINS,
    add_domain_p50_ms: round(percentile(latencies, 50)),
    add_domain_p99_ms: round(percentile(latencies, 99)),
    add_domains_per_s: round(DOMAINS / addSeconds),
    baseline_restate_noop_p50_ms: baseline.restate_noop_p50_ms,
    add_domain_over_baseline: round(percentile(latencies, 50) / baseline.restate_noop_p50_ms),
    dns_qps_max: Math.max(...perSecond),
    dns_qps_budget: DNS_QPS_BUDGET,
    dns_queries: perSecond.reduce((a, b) => a + b, 0),
    verify_after_publish_ms: verifyAfterPublish,
    verify_allowed_ms: allowed,
    verify_within_step_plus_1s: verifyAfterPublish <= allowed ? "yes" : "no",
    check_backoff: BACKOFF,
  });
} finally {
  await app.stop();
  proxy.close();
}
