import { CompiledQuery, sql, type Compilable, type RawBuilder, type Transaction } from "kysely";
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
// as late as possible in the transaction (the last statements before commit), and send the
// statements that carry the numbers in the same round trip as the bump (allocateWith): every
// round trip inside the hold is one that every other writer waits for, and under load each one
// also waits for this process's busy event loop.

export type SequenceName = "changes" | "events";

/** The i-th reserved number (0-based) as SQL, for the statements sent with the bump. */
export type ReservedNumber = (i: number) => RawBuilder<number>;

/** Reserves `count` consecutive numbers; returns the first. Must run inside a transaction. */
export function allocate(trx: Transaction<Database>, name: SequenceName, count: number): Promise<number> {
  return allocateWith(trx, name, count, () => []);
}

/**
 * Reserves `count` consecutive numbers and runs `statements` in the same round trip (one
 * multi-statement query, the bump first); their values name the numbers with `numberAt(i)`,
 * which the server computes from LAST_INSERT_ID(). Returns the first number. A failing statement
 * fails the call, and the caller's transaction rolls back the bump with it.
 */
export async function allocateWith(
  trx: Transaction<Database>,
  name: SequenceName,
  count: number,
  statements: (numberAt: ReservedNumber) => readonly Compilable[],
): Promise<number> {
  if (!trx.isTransaction) throw new Error(`allocate(${name}): must run inside a transaction`);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`allocate(${name}): count must be a positive integer, got ${count}`);
  const bump = sql`update \`sequences\` set \`value\` = last_insert_id(\`value\` + ${count}) where \`name\` = ${name}`.compile(trx);
  const rest = statements((i) => sql<number>`(last_insert_id() - ${count - 1 - i})`).map((statement) => statement.compile());
  const batch = [bump, ...rest];
  const result = await trx.executeQuery(CompiledQuery.raw(batch.map((q) => q.sql).join(";\n"), batch.flatMap((q) => q.parameters)));
  // One statement answers with its OK packet; several with one OK packet each, as rows.
  const answer = rest.length === 0 ? { affectedRows: Number(result.numAffectedRows ?? 0n), insertId: result.insertId } : okPacketOf(result.rows[0]);
  if (answer.affectedRows !== 1) throw new Error(`allocate(${name}): the sequences row is missing; run the migrations`);
  // The OK packet carries the value set through LAST_INSERT_ID(expr); ask only if it did not.
  let last = answer.insertId === undefined ? undefined : BigInt(answer.insertId);
  if (last === undefined) {
    const row = await sql<{ v: number | string }>`select last_insert_id() as v`.execute(trx);
    last = BigInt(row.rows[0]!.v);
  }
  if (last > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`allocate(${name}): counter beyond 2^53`);
  return Number(last) - count + 1;
}

function okPacketOf(row: unknown): { affectedRows: number; insertId: bigint | number | string | undefined } {
  const packet = row as { affectedRows?: number; insertId?: number | string } | undefined;
  return { affectedRows: packet?.affectedRows ?? 0, insertId: packet?.insertId };
}
