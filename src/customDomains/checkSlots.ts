import { sql, type Transaction } from "kysely";
import type { Database } from "../db/schema.js";

/** DNS queries one background check makes at most (TXT, CNAME, delegation CNAME, and A+AAAA at an apex). */
export const QUERIES_PER_CHECK = 4;

/**
 * The due time for a check wanted at `desired`: the first second from there on that has fewer
 * than `perSecond` checks due, and within that second a place after the ones already there, so
 * checks (and their DNS queries) stay under the budget however many domains are pending. The
 * count is read in the caller's transaction; two checks racing for the last place of a second
 * may both take it, which the DNS query budget absorbs. Looks at most an hour ahead.
 */
export async function reserveCheckSlot(trx: Transaction<Database>, desired: Date, perSecond: number): Promise<Date> {
  const start = Math.floor(desired.getTime() / 1000) * 1000;
  const horizon = 3600;
  // One query: how many checks are due in each second of the next hour, from `desired` on.
  const rows = await trx
    .selectFrom("custom_domains")
    .select([sql<number>`floor(unix_timestamp(next_check_at))`.as("second"), (eb) => eb.fn.countAll<number>().as("n")])
    .where("next_check_at", ">=", new Date(start))
    .where("next_check_at", "<", new Date(start + horizon * 1000))
    .groupBy(sql`floor(unix_timestamp(next_check_at))`)
    .execute();
  const due = new Map(rows.map((r) => [Number(r.second) * 1000, Number(r.n)]));
  for (let second = start; second < start + horizon * 1000; second += 1000) {
    const taken = due.get(second) ?? 0;
    if (taken < perSecond) {
      const at = second + Math.floor((taken / perSecond) * 1000);
      return new Date(Math.max(at, desired.getTime()));
    }
  }
  return new Date(start + horizon * 1000);
}
