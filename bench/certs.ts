/*
 * npm run bench:certs — certificates on the real stack (MariaDB, restate-server, switchyard
 * serve answering HTTP-01, Pebble with its validation sleep off, behind a counting TLS gate).
 * Writes bench/results/certs.json.
 *
 *   tls_ready  a domain verified → TLSReady True (the order starts on its own), measured for
 *              BENCH_CERTS_READY domains one after another: p50/p99, and p50 over the baseline
 *   renewal    BENCH_CERTS_RENEW certificates of one workspace (one ACME account) issued, then
 *              their renewal timers fired at the same moment: how many renewed, how many attempts
 *              failed, and the most orders the CA saw in any minute against the account's budget
 */
import "../src/polyfill.js";
import { DnsRecordPurpose, NetworkService, type Domain } from "../src/gen/ctrl/v1/network_pb.js";
import { measureBaseline } from "./lib/baseline.js";
import { report } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";
import { startSwitchyard } from "../test/harness/index.js";
import { startApp } from "../test/support/app.js";
import { startCaGate } from "../test/support/caGate.js";
import { createProject, deploy } from "../test/support/fixtures.js";

const READY_SAMPLES = Number(process.env.BENCH_CERTS_READY ?? 30);
const RENEWALS = Number(process.env.BENCH_CERTS_RENEW ?? 200);
const BUDGET_PER_MIN = Number(process.env.BENCH_CERTS_BUDGET ?? 150);
const MINUTE = 60_000;

const app = await startApp({ pebble: true, answerHttp01: true, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
const gate = await startCaGate(app.stack.pebble!);
await app.switchyard.stop();
app.switchyard = await startSwitchyard(
  { ...app.env, SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_ACME_DIRECTORY_URL: gate.directoryUrl, SWITCHYARD_ACME_ORDER_BUDGET: `${BUDGET_PER_MIN}/1m` },
  { readyTimeoutMs: 30_000 },
);

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const client = app.client(NetworkService, "acme");
/** A verified domain of `project` (its TXT published first, so the first check proves it). */
async function verified(project: { workspaceId: string; projectId: string }, hostname: string): Promise<{ domain: Domain; verifiedAt: number }> {
  const domain = (await client.addDomain({ workspaceId: project.workspaceId, projectId: project.projectId, hostname })).domain!;
  const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
  await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
  const checked = (await client.verifyDomain({ domainId: domain.id })).domain!;
  return { domain: checked, verifiedAt: Date.now() };
}
const tlsReady = async (domainId: string) => {
  const row = await app.db.selectFrom("custom_domains").select("conditions").where("id", "=", domainId).executeTakeFirstOrThrow();
  return (JSON.parse(row.conditions) as Array<{ type: string; status: string }>).some((c) => c.type === "TLSReady" && c.status === "True");
};
const issuedIds = async (hostnames: string[]) =>
  new Map((await app.db.selectFrom("certificates").select(["hostname", "id"]).where("hostname", "in", hostnames).where("status", "=", "issued").execute()).map((r) => [r.hostname, r.id]));

try {
  const baseline = await measureBaseline(app.db, app.stack.restate, 200, 20);
  const project = await createProject(app, "acme");
  await deploy(app, project);

  console.log(`verified → TLSReady ×${READY_SAMPLES} …`);
  const ready: number[] = [];
  for (let i = 0; i < READY_SAMPLES; i++) {
    const { domain, verifiedAt } = await verified(project, `ready${i}.bench-certs.example.com`);
    await until(`TLSReady for ${domain.hostname}`, () => tlsReady(domain.id), 60_000, 10);
    ready.push(Date.now() - verifiedAt);
  }

  console.log(`issuing ${RENEWALS} certificates in one workspace …`);
  const storm = await createProject(app, "acme");
  await deploy(app, storm);
  const hostnames = Array.from({ length: RENEWALS }, (_, i) => `r${i}.bench-renew.example.com`);
  const domains: Domain[] = [];
  for (let i = 0; i < hostnames.length; i += 20) {
    domains.push(...(await Promise.all(hostnames.slice(i, i + 20).map(async (h) => (await verified(storm, h)).domain))));
  }
  await until("every certificate issued", async () => (await issuedIds(hostnames)).size === RENEWALS, 15 * MINUTE, 500);
  const before = await issuedIds(hostnames);

  console.log(`firing ${RENEWALS} renewal timers at once …`);
  const seen = gate.requests.length;
  const fired = Date.now();
  await Promise.all(
    domains.map(async (domain) => {
      const response = await fetch(`${app.stack.restate.ingressUrl}/Certificate/${encodeURIComponent(domain.hostname)}/renew/send`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ domainId: domain.id, certificateId: before.get(domain.hostname) }),
      });
      if (!response.ok) throw new Error(`renew ${domain.hostname}: HTTP ${response.status} ${await response.text()}`);
    }),
  );
  const renewedCount = async () => [...(await issuedIds(hostnames)).entries()].filter(([h, id]) => id !== before.get(h)).length;
  await until("every certificate renewed", async () => (await renewedCount()) === RENEWALS, 20 * MINUTE, 500);
  const renewSeconds = (Date.now() - fired) / 1000;

  const failures = await app.db.selectFrom("events").select((eb) => eb.fn.countAll<number>().as("n")).where("type", "=", "CertIssuanceFailed").where("created_at", ">=", new Date(fired)).executeTakeFirstOrThrow();
  const orders = gate.requests.slice(seen).filter((r) => r.method === "POST" && r.path === "/order-plz" && r.status === 201).map((r) => r.at);
  const perMinuteMax = Math.max(0, ...orders.map((t) => orders.filter((u) => u >= t && u < t + MINUTE).length));

  report("certs", {
    tls_ready_p50_ms: round(percentile(ready, 50)),
    tls_ready_p99_ms: round(percentile(ready, 99)),
    tls_ready_samples: READY_SAMPLES,
    baseline_restate_noop_p50_ms: baseline.restate_noop_p50_ms,
    tls_ready_over_baseline: round(percentile(ready, 50) / baseline.restate_noop_p50_ms),
    renewed: await renewedCount(),
    renew_failures: Number(failures.n),
    renew_seconds: round(renewSeconds),
    orders_per_min_max: perMinuteMax,
    order_budget_per_min: BUDGET_PER_MIN,
  });
} finally {
  await app.stop();
  await gate.stop();
}
