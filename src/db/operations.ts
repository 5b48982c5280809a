import type { Kysely, Transaction } from "kysely";
import { isDuplicateKey } from "./errors.js";
import { fromJson, toJson, type Database } from "./schema.js";

/**
 * Runs `work` in one transaction at most once per `operationId`.
 *
 * A Restate `ctx.run` step is re-executed when the process dies after the transaction committed
 * but before the journal recorded the step. Each step passes an id derived from the Restate
 * context (stable across re-runs); the id and the result are committed with the work, so a
 * re-run finds them and returns the first result without writing anything twice.
 */
export async function runOnce<T>(
  db: Kysely<Database>,
  operationId: string,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const done = await db.selectFrom("operations").select("result").where("id", "=", operationId).executeTakeFirst();
  if (done) return decode<T>(done.result);
  try {
    return await db.transaction().execute(async (trx) => {
      const result = await work(trx);
      await trx.insertInto("operations").values({ id: operationId, result: toJson({ value: result ?? null }) }).execute();
      return result;
    });
  } catch (error) {
    // A concurrent re-run committed first (its insert won): return what it recorded.
    if (isDuplicateKey(error)) {
      const row = await db.selectFrom("operations").select("result").where("id", "=", operationId).executeTakeFirstOrThrow();
      return decode<T>(row.result);
    }
    throw error;
  }
}

function decode<T>(text: string): T {
  return fromJson<{ value: T }>(text).value;
}
