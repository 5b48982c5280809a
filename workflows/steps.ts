import * as restate from "@restatedev/restate-sdk";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "../src/db/schema.js";
import { runOnce } from "../src/db/operations.js";
import { GateError } from "../src/domain/gates.js";
import { statusOfRule } from "../src/domain/ruleCodes.js";
import { killAfterStepIfRequested } from "../src/faults.js";

/** A rule violation is final: Restate must not retry it. Everything else is retried. */
export function toTerminal(error: unknown): unknown {
  if (error instanceof GateError) return new restate.TerminalError(error.message, { errorCode: statusOfRule(error.code) });
  return error;
}

/**
 * One named step that runs one database transaction exactly once: the step name shows in the
 * Restate UI, and the operation id (invocation id + step name) makes a re-run after a crash
 * return the committed result instead of writing again.
 */
export function dbStep<T>(
  ctx: restate.Context,
  name: string,
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  const operationId = `${ctx.request().id}/${name}`;
  return step(ctx, name, async () => {
    try {
      return await runOnce(db, operationId, work);
    } catch (error) {
      throw toTerminal(error);
    }
  });
}

/** A named `ctx.run` step (the name is what the Restate UI shows). */
export function step<T>(ctx: restate.Context, name: string, action: () => Promise<T>): Promise<T> {
  return ctx.run(name, async () => {
    const result = await action();
    killAfterStepIfRequested(name, { id: ctx.request().id, target: String(ctx.request().target) });
    return result;
  });
}
