import type { Transaction } from "kysely";
import { newId } from "../db/ids.js";
import type { Database } from "../db/schema.js";

export interface OrderBudget {
  orders: number;
  windowMs: number;
}

/**
 * How long to wait before one more order keeps the window ending now at `orders` or fewer, given
 * the times of the orders placed within the last window (oldest first). 0 = order now.
 */
export function orderWaitMs(placed: readonly Date[], budget: OrderBudget, now: Date): number {
  if (placed.length < budget.orders) return 0;
  // The order that must leave the window before another may enter it.
  const leaving = placed[placed.length - budget.orders]!;
  return Math.max(1, leaving.getTime() + budget.windowMs - now.getTime());
}

/**
 * Takes one order of the account's budget if the last window has room: locks the account row
 * (concurrent orders of one account queue here), reads the window with a locking read (it sees
 * what committed while this transaction waited for the lock), and records the order as placed
 * now. The caller places it with the CA right away (then `markOrderPlaced`), or sleeps `waitMs`
 * and asks again. Orders that left every window are deleted on the way.
 */
export async function takeOrderSlot(trx: Transaction<Database>, accountId: string, hostname: string, budget: OrderBudget, now: Date): Promise<{ waitMs: number; slotId?: string }> {
  await trx.selectFrom("acme_users").select("id").where("id", "=", accountId).forUpdate().executeTakeFirstOrThrow();
  const windowStart = new Date(now.getTime() - budget.windowMs);
  await trx.deleteFrom("acme_orders").where("acme_user_id", "=", accountId).where("placed_at", "<=", windowStart).execute();
  const placed = await trx.selectFrom("acme_orders").select("placed_at").where("acme_user_id", "=", accountId).orderBy("placed_at").forUpdate().execute();
  const waitMs = orderWaitMs(
    placed.map((row) => row.placed_at),
    budget,
    now,
  );
  if (waitMs > 0) return { waitMs };
  const slotId = newId("ord");
  await trx.insertInto("acme_orders").values({ id: slotId, acme_user_id: accountId, hostname, placed_at: now }).execute();
  return { waitMs, slotId };
}

/**
 * Moves a slot to when the CA actually took the order: under load that can be seconds after the
 * slot was granted, and the window must count the order from when the CA saw it.
 */
export async function markOrderPlaced(trx: Transaction<Database>, accountId: string, slotId: string, at: Date): Promise<void> {
  // The account lock first, as takeOrderSlot takes it: the same lock order, no deadlock.
  await trx.selectFrom("acme_users").select("id").where("id", "=", accountId).forUpdate().executeTakeFirstOrThrow();
  await trx.updateTable("acme_orders").set({ placed_at: at }).where("id", "=", slotId).where("placed_at", "<", at).execute();
}
