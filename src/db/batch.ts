import { CompiledQuery, type Compilable, type Transaction } from "kysely";
import type { Database } from "./schema.js";

// Several statements in one round trip: one multi-statement query (the pool allows them,
// connect.ts). Under load every round trip of a transaction also waits for this process's busy
// event loop, and one inside the feed counter's hold is one that every other writer waits for.
// The statements run in order, as if sent one by one; a failing one fails the call, and the
// caller's transaction rolls back the ones before it.

/** One statement's answer: the rows of a query, or the OK packet of a write. */
export type StatementAnswer = unknown[] | OkPacket;

export interface OkPacket {
  affectedRows: number;
  insertId: bigint | number | string | undefined;
}

/** Runs `statements` in one round trip; returns each one's answer, in order. */
export async function executeBatch(trx: Transaction<Database>, statements: readonly (Compilable | CompiledQuery)[]): Promise<StatementAnswer[]> {
  const compiled = statements.map((statement) => ("compile" in statement ? statement.compile() : statement));
  const result = await trx.executeQuery(CompiledQuery.raw(compiled.map((q) => q.sql).join(";\n"), compiled.flatMap((q) => q.parameters)));
  if (compiled.length > 1) return result.rows as StatementAnswer[];
  // One statement answers as Kysely reads it: rows, or the counts of an OK packet.
  if (result.numAffectedRows === undefined && result.insertId === undefined) return [result.rows as unknown[]];
  return [{ affectedRows: Number(result.numAffectedRows ?? 0n), insertId: result.insertId }];
}

type RowsOf<Q> = Q extends Compilable<infer Row> ? Row[] : never;

/** The rows of several queries, in one round trip, typed like each query's `execute()`. */
export async function selectTogether<const Q extends readonly Compilable<unknown>[]>(trx: Transaction<Database>, queries: Q): Promise<{ -readonly [K in keyof Q]: RowsOf<Q[K]> }> {
  const answers = await executeBatch(trx, queries);
  return answers.map((answer, i) => {
    if (!Array.isArray(answer)) throw new Error(`selectTogether: statement ${i + 1} is not a query`);
    return answer;
  }) as { -readonly [K in keyof Q]: RowsOf<Q[K]> };
}
