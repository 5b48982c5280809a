import { sql, type Transaction } from "kysely";
import type { Database } from "./schema.js";

// Gap-free counters for the change feed and the outbox.
//
// `UPDATE sequences SET value = LAST_INSERT_ID(value + n)` takes the row's exclusive lock and
// keeps it until the surrounding transaction ends. A second writer blocks on that lock until the
// first commits (its numbers are then taken, and the second continues after them) or rolls back
// (the increment is undone, and the second reuses the numbers). So the numbers are dense, and a
// transaction holding higher numbers commits after every transaction holding lower ones: commit
// order equals number order, and a reader that sees number v has already been able to see every
// number below v.
//
// The price is that writers of one counter are serialised from the bump to their commit: bump
// as late as possible in the transaction (the last statements before commit).

export type SequenceName = "changes" | "events";

/** Reserves `count` consecutive numbers; returns the first. Must run inside a transaction. */
export async function allocate(trx: Transaction<Database>, name: SequenceName, count: number): Promise<number> {
  if (!trx.isTransaction) throw new Error(`allocate(${name}): must run inside a transaction`);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`allocate(${name}): count must be a positive integer, got ${count}`);
  const result = await sql`update \`sequences\` set \`value\` = last_insert_id(\`value\` + ${count}) where \`name\` = ${name}`.execute(trx);
  if (result.numAffectedRows !== 1n) {
    throw new Error(`allocate(${name}): the sequences row is missing; run the migrations`);
  }
  // The OK packet carries the value set through LAST_INSERT_ID(expr); ask only if it did not.
  let last = result.insertId;
  if (last === undefined) {
    const row = await sql<{ v: number | string }>`select last_insert_id() as v`.execute(trx);
    last = BigInt(row.rows[0]!.v);
  }
  if (last > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`allocate(${name}): counter beyond 2^53`);
  return Number(last) - count + 1;
}
