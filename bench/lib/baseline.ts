import * as restate from "@restatedev/restate-sdk";
import * as clients from "@restatedev/restate-sdk-clients";
import { sql, type Kysely } from "kysely";
import type { Database } from "../../src/db/schema.js";
import { serveBenchServices } from "./endpoint.js";
import { percentile, round, timeIt } from "./stats.js";

export interface BaselineFigures {
  restate_noop_p50_ms: number;
  restate_noop_p99_ms: number;
  mysql_txn_p50_ms: number;
  mysql_txn_p99_ms: number;
  restate_txn_p50_ms: number;
  restate_txn_p99_ms: number;
}

/**
 * The physical floor: a no-op virtual-object call through the ingress, one MySQL transaction
 * (SELECT … FOR UPDATE of one row + a 10-row upsert), and that transaction in one ctx.run of a
 * virtual-object call. Uses bench-only tables and services; touches nothing of Switchyard's.
 */
export async function measureBaseline(db: Kysely<Database>, restateUrls: { adminUrl: string; ingressUrl: string }, iterations = 500, warmup = 50): Promise<BaselineFigures> {
  await sql`CREATE TABLE IF NOT EXISTS bench_lock (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS bench_rows (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB`.execute(db);
  await sql`INSERT IGNORE INTO bench_lock (id, n) VALUES (1, 0)`.execute(db);

  const transaction = (i: number) =>
    db.transaction().execute(async (trx) => {
      await sql`SELECT n FROM bench_lock WHERE id = 1 FOR UPDATE`.execute(trx);
      const values = sql.join(Array.from({ length: 10 }, (_, k) => sql`(${k}, ${i})`));
      await sql`INSERT INTO bench_rows (id, v) VALUES ${values} ON DUPLICATE KEY UPDATE v = VALUES(v)`.execute(trx);
    });

  const baseline = restate.object({
    name: "BenchBaseline",
    handlers: {
      noop: async (_ctx: restate.ObjectContext) => 0,
      txn: async (ctx: restate.ObjectContext, i: number) => {
        await ctx.run("transaction", () => transaction(i));
        return i;
      },
    },
  });
  const endpoint = await serveBenchServices(restateUrls.adminUrl, [baseline]);
  try {
    const object = clients.connect({ url: restateUrls.ingressUrl }).objectClient(baseline, "floor");
    const noop = await timeIt(iterations, warmup, () => object.noop());
    const mysql = await timeIt(iterations, warmup, (i) => transaction(i));
    const inRestate = await timeIt(iterations, warmup, (i) => object.txn(i));
    return {
      restate_noop_p50_ms: round(percentile(noop, 50)),
      restate_noop_p99_ms: round(percentile(noop, 99)),
      mysql_txn_p50_ms: round(percentile(mysql, 50)),
      mysql_txn_p99_ms: round(percentile(mysql, 99)),
      restate_txn_p50_ms: round(percentile(inRestate, 50)),
      restate_txn_p99_ms: round(percentile(inRestate, 99)),
    };
  } finally {
    endpoint.close();
  }
}
