import { sql, type Compilable, type CompiledQuery, type RawBuilder, type Transaction } from "kysely";
import { executeBatch, type OkPacket } from "./batch.js";
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
// statements that carry the numbers in the same round trip as the bump (reserve): every
// round trip inside the hold is one that every other writer waits for, and under load each one
// also waits for this process's busy event loop.

export type SequenceName = "changes" | "events";

/** The i-th reserved number (0-based) as SQL, for the statements sent with the bump. */
export type ReservedNumber = (i: number) => RawBuilder<number>;

/** `count` numbers of one counter, and the statements that carry them (built with `numberAt`). */
export interface Reservation {
  name: SequenceName;
  count: number;
  statements: (numberAt: ReservedNumber) => readonly Compilable[];
}

/**
 * Makes `reservations` in one round trip — one multi-statement query: each counter's bump, then
 * the statements that carry its numbers, which name them with `numberAt(i)` (the server computes
 * it from LAST_INSERT_ID(), which the bump just set). Returns each reservation's first number. A
 * failing statement fails the call, and the caller's transaction rolls the bumps back with it.
 * Counters are bumped in the order given: always `changes` before `events`, as every writer does.
 */
export async function reserve(trx: Transaction<Database>, reservations: readonly Reservation[]): Promise<number[]> {
  if (!trx.isTransaction) throw new Error(`reserve(${reservations.map((r) => r.name).join(", ")}): must run inside a transaction`);
  const batch: CompiledQuery[] = [];
  const bumpAt: number[] = [];
  for (const { name, count, statements } of reservations) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`reserve(${name}): count must be a positive integer, got ${count}`);
    bumpAt.push(batch.length);
    batch.push(sql`update \`sequences\` set \`value\` = last_insert_id(\`value\` + ${count}) where \`name\` = ${name}`.compile(trx));
    batch.push(...statements((i) => sql<number>`(last_insert_id() - ${count - 1 - i})`).map((statement) => statement.compile()));
  }
  const answers = await executeBatch(trx, batch);
  return reservations.map(({ name, count }, r) => {
    const answer = answers[bumpAt[r]!] as OkPacket | undefined;
    if (answer?.affectedRows !== 1) throw new Error(`reserve(${name}): the sequences row is missing; run the migrations`);
    // The OK packet carries the value set through LAST_INSERT_ID(expr).
    if (answer.insertId === undefined) throw new Error(`reserve(${name}): the server did not return the counter's value`);
    const last = BigInt(answer.insertId);
    if (last > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`reserve(${name}): counter beyond 2^53`);
    return Number(last) - count + 1;
  });
}

/** The `count` consecutive numbers from `first`. */
export function numbersFrom(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

