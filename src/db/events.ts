import type { Kysely, Transaction } from "kysely";
import { numbersFrom, reserve, type Reservation } from "./sequences.js";
import { fromJson, toJson, type Database } from "./schema.js";

// The outbox (outbox-events, docs/invariants.md): events are written in the same transaction as the
// change they describe, so they exist exactly when that change committed.
//
// Event ids come from the 'events' counter, bumped inside the transaction (see sequences.ts), not
// from AUTO_INCREMENT: auto-increment ids are handed out before commit, so a consumer resuming
// after id X could miss a smaller id that commits later. With the counter, ids are dense and
// commit in id order: resuming after X yields every later event exactly once, in order.

export interface NewEvent {
  tenantId: string;
  workspaceId?: string | null;
  /** e.g. DomainAdded, DomainVerified, DomainRemoved, CertProvisioned, CertExpiring, DeploymentReady */
  type: string;
  /** The resource the event is about, e.g. a domain or deployment id. */
  subject: string;
  /** JSON-serialisable; never secrets or private keys (no-plaintext-keys). */
  payload?: unknown;
}

export interface OutboxEvent {
  id: number;
  tenantId: string;
  workspaceId: string | null;
  type: string;
  subject: string;
  payload: unknown;
  createdAt: Date;
}

export interface EventFilter {
  tenantId?: string;
  workspaceId?: string;
  types?: readonly string[];
  subject?: string;
}

/** Appends `events` inside `trx`; returns their ids in input order. Call it last in the transaction. */
export async function appendEvents(trx: Transaction<Database>, events: readonly NewEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  const [first] = await reserve(trx, [eventReservation(trx, events)]);
  return numbersFrom(first!, events.length);
}

/** appendEvents' writes as a reservation: the bump and the insert in one round trip (sequences.ts: reserve). */
export function eventReservation(trx: Transaction<Database>, events: readonly NewEvent[]): Reservation {
  return {
    name: "events",
    count: events.length,
    statements: (idAt) => [
      trx.insertInto("events").values(
        events.map((e, i) => ({
          id: idAt(i),
          tenant_id: e.tenantId,
          workspace_id: e.workspaceId ?? null,
          type: e.type,
          subject: e.subject,
          payload: toJson(e.payload ?? {}),
        })),
      ),
    ],
  };
}

/** Events with id > `afterId`, oldest first, at most `limit`. */
export async function readEvents(
  db: Kysely<Database>,
  afterId: number,
  limit: number,
  filter: EventFilter = {},
): Promise<OutboxEvent[]> {
  if (!Number.isInteger(afterId) || afterId < 0) throw new RangeError(`readEvents: afterId must be a non-negative integer, got ${afterId}`);
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`readEvents: limit must be a positive integer, got ${limit}`);
  if (filter.types && filter.types.length === 0) return [];
  let query = db.selectFrom("events").selectAll().where("id", ">", afterId);
  if (filter.tenantId !== undefined) query = query.where("tenant_id", "=", filter.tenantId);
  if (filter.workspaceId !== undefined) query = query.where("workspace_id", "=", filter.workspaceId);
  if (filter.types) query = query.where("type", "in", [...filter.types]);
  if (filter.subject !== undefined) query = query.where("subject", "=", filter.subject);
  const rows = await query.orderBy("id").limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    tenantId: r.tenant_id,
    workspaceId: r.workspace_id,
    type: r.type,
    subject: r.subject,
    payload: fromJson(r.payload),
    createdAt: r.created_at,
  }));
}
