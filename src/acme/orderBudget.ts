import type { Transaction } from "kysely";
import { newId } from "../db/ids.js";
import type { Database } from "../db/schema.js";

export interface OrderBudget {
  orders: number;
  windowMs: number;
}

/**
 * The earliest time at or after `now` when one more order keeps every window of `windowMs` at
 * `orders` or fewer, given the times already taken (newest first, possibly in the future). The
 * new time is also never before the newest one taken, so orders keep their arrival order.
 */
export function nextOrderTime(taken: readonly Date[], budget: OrderBudget, now: Date): Date {
  let at = now.getTime();
  if (taken.length > 0) at = Math.max(at, taken[0]!.getTime());
  const oldestInWindow = taken[budget.orders - 1];
  if (oldestInWindow) at = Math.max(at, oldestInWindow.getTime() + budget.windowMs);
  return new Date(at);
}

/**
 * Takes the account's next order slot: locks the account row (so concurrent orders of one account
 * queue here), reads its newest `orders` slots, records the new one and returns its time. The
 * caller sleeps until then. Slots that fell out of every window are deleted on the way.
 */
export async function reserveOrderSlot(trx: Transaction<Database>, accountId: string, hostname: string, budget: OrderBudget, now: Date): Promise<Date> {
  await trx.selectFrom("acme_users").select("id").where("id", "=", accountId).forUpdate().executeTakeFirstOrThrow();
  const taken = await trx
    .selectFrom("acme_orders")
    .select("placed_at")
    .where("acme_user_id", "=", accountId)
    .orderBy("placed_at", "desc")
    .limit(budget.orders)
    // A locking read sees the slots committed while this transaction waited for the account lock
    // (a plain read would use the snapshot taken before it).
    .forUpdate()
    .execute();
  const at = nextOrderTime(
    taken.map((row) => row.placed_at),
    budget,
    now,
  );
  await trx.insertInto("acme_orders").values({ id: newId("ord"), acme_user_id: accountId, hostname, placed_at: at }).execute();
  await trx.deleteFrom("acme_orders").where("acme_user_id", "=", accountId).where("placed_at", "<", new Date(now.getTime() - budget.windowMs)).execute();
  return at;
}
