import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

// Retention of the append-only tables. `changes` and `events` are feeds read by position
// (version / id): pruning deletes a prefix, oldest first, and records in `retention` the highest
// position deleted, in the same transaction — a reader resuming from below it has missed entries
// (FailedPrecondition: bootstrap again). Both positions were assigned in commit order
// (sequences.ts), so a prefix of committed entries is exactly what an age cutoff removes.
// `operations` (exactly-once records of workflow steps) are pruned by age alone.
//
// Every call deletes at most `maxRows` rows in batches of BATCH, so one run never holds locks
// long; a backlog is worked off over the following runs.

export type Feed = "changes" | "events";

const BATCH = 2000;

/** The highest version (changes) or id (events) pruned so far; 0 = nothing pruned. */
export async function prunedThrough(db: Kysely<Database>, feed: Feed): Promise<number> {
  const row = await db.selectFrom("retention").select("pruned_through").where("feed", "=", feed).executeTakeFirst();
  if (!row) throw new Error(`prunedThrough(${feed}): the retention row is missing; run the migrations`);
  return Number(row.pruned_through);
}

export interface PruneResult {
  deleted: number;
  prunedThrough: number;
}

/** Deletes the feed's entries created before `cutoff` (oldest first, at most `maxRows`). */
export async function pruneFeed(db: Kysely<Database>, feed: Feed, cutoff: Date, maxRows = 100_000): Promise<PruneResult> {
  const position = feed === "changes" ? "version" : "id";
  let deleted = 0;
  let through = await prunedThrough(db, feed);
  while (deleted < maxRows) {
    // The next batch in position order; the prefix ends at the first entry that is young enough.
    const rows = await sql<{ position: number | string; created_at: Date }>`
      select ${sql.ref(position)} as position, created_at from ${sql.table(feed)}
      where ${sql.ref(position)} > ${through} order by ${sql.ref(position)} limit ${Math.min(BATCH, maxRows - deleted)}`.execute(db);
    const old = [];
    for (const row of rows.rows) {
      if (row.created_at >= cutoff) break;
      old.push(Number(row.position));
    }
    if (old.length === 0) break;
    const last = old.at(-1)!;
    await db.transaction().execute(async (trx) => {
      await sql`delete from ${sql.table(feed)} where ${sql.ref(position)} > ${through} and ${sql.ref(position)} <= ${last}`.execute(trx);
      await trx.updateTable("retention").set({ pruned_through: last, pruned_at: new Date() }).where("feed", "=", feed).where("pruned_through", "<", last).execute();
    });
    deleted += old.length;
    through = last;
    if (old.length < rows.rows.length || rows.rows.length < BATCH) break;
  }
  return { deleted, prunedThrough: through };
}

/** Deletes operation records created before `cutoff` (at most `maxRows`). */
export async function pruneOperations(db: Kysely<Database>, cutoff: Date, maxRows = 100_000): Promise<number> {
  let deleted = 0;
  while (deleted < maxRows) {
    const result = await sql`delete from operations where created_at < ${cutoff} order by created_at limit ${Math.min(BATCH, maxRows - deleted)}`.execute(db);
    const n = Number(result.numAffectedRows ?? 0n);
    deleted += n;
    if (n < BATCH) break;
  }
  return deleted;
}
