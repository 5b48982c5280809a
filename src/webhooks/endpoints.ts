import type { Insertable, Kysely, Transaction } from "kysely";
import { fromJson, type Database, type WebhookDeliveriesTable } from "../db/schema.js";
import { GateError } from "../domain/gates.js";

// The transactions of the WebhookEndpoint object (workflows/webhook.ts) on its endpoint's rows.

/** Where and how to deliver (null: the endpoint was deleted). */
export async function loadDeliveryTarget(db: Kysely<Database>, endpointId: string): Promise<{ url: string; secret: string; workspaceId: string; types: string[] | null } | null> {
  const row = await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", endpointId).executeTakeFirst();
  return row ? { url: row.url, secret: row.secret, workspaceId: row.workspace_id, types: row.event_types ? fromJson<string[]>(row.event_types) : null } : null;
}

/**
 * Records one delivery attempt; false when the endpoint was deleted meanwhile (its deliveries
 * went with it), so the delivery ends instead of failing on the foreign key forever.
 */
export async function recordDeliveryAttempt(trx: Transaction<Database>, attempt: Insertable<WebhookDeliveriesTable>): Promise<boolean> {
  const endpoint = await trx.selectFrom("webhook_endpoints").select("id").where("id", "=", attempt.endpoint_id).forUpdate().executeTakeFirst();
  if (!endpoint) return false;
  await trx.insertInto("webhook_deliveries").values(attempt).execute();
  return true;
}

/** Deletes a tenant's endpoint (its delivery rows cascade); another tenant's is NotFound, like a missing one. */
export async function removeWebhookEndpoint(trx: Transaction<Database>, input: { endpointId: string; tenantId: string }): Promise<{ removed: true }> {
  const deleted = await trx.deleteFrom("webhook_endpoints").where("id", "=", input.endpointId).where("tenant_id", "=", input.tenantId).executeTakeFirst();
  if (Number(deleted.numDeletedRows) === 0) throw new GateError("not_found", `webhook endpoint ${input.endpointId} not found`);
  return { removed: true };
}
