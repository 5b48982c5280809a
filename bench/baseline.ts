/*
 * npm run bench:baseline — the floor later benchmarks divide by, on the real stack:
 * a no-op Restate virtual-object call, one MySQL transaction, that transaction inside one
 * ctx.run, and the idle RSS of `switchyard serve`. Writes bench/results/baseline.json.
 */
import { measureBaseline } from "./lib/baseline.js";
import { report } from "./lib/report.js";
import { round, rssMb } from "./lib/stats.js";
import { startApp } from "../test/support/app.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 500);

const app = await startApp({ env: { SWITCHYARD_LOG_LEVEL: "warn" } });
try {
  // Idle first: nothing has called switchyard yet; give it a moment to settle after start.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleRss = await rssMb(app.switchyard.pid);
  const floor = await measureBaseline(app.db, app.stack.restate, ITERATIONS);
  report("baseline", {
    ...floor,
    serve_idle_rss_mb: idleRss,
    restate_txn_over_mysql_txn: round(floor.restate_txn_p50_ms / floor.mysql_txn_p50_ms),
    restate_noop_over_mysql_txn: round(floor.restate_noop_p50_ms / floor.mysql_txn_p50_ms),
    iterations: ITERATIONS,
  });
} finally {
  await app.stop();
}
