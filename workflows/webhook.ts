/*
 * WebhookEndpoint: one virtual object per webhook endpoint (key: endpoint id) that delivers its
 * workspace's events in id order, at least once, each signed with the endpoint's secret.
 *
 *   start ──► cursor = newest event id ──► pump
 *   pump ───► events after the cursor (workspace, types) ──► for each: POST, retried on the
 *             endpoint's own backoff (durable sleeps) until 2xx or abandoned; every attempt is a
 *             webhook_deliveries row ──► cursor advances ──► pump again after the poll interval
 *
 * One object per endpoint: a slow or failing receiver delays only its own deliveries. A POST
 * repeated after a crash (between the request and the journal) is the "at least once".
 */
import * as restate from "@restatedev/restate-sdk";
import { newId } from "../src/db/ids.js";
import { readEvents, type OutboxEvent } from "../src/db/events.js";
import { fromJson } from "../src/db/schema.js";
import { postEvent, type AttemptResult } from "../src/webhooks/postEvent.js";
import type { WorkflowDeps } from "./deps.js";
import { dbStep, step } from "./steps.js";

interface PumpState {
  /** Id of the last event delivered or abandoned. */
  cursor: number;
  /** The scheduled pump that is current; older scheduled pumps do nothing. */
  token: string;
}

const BATCH = 20;

export function createWebhookObject(deps: WorkflowDeps) {
  const { db, config } = deps;
  const backoff = config.webhookBackoffMs;

  async function endpointOf(ctx: restate.ObjectContext) {
    return step(ctx, "load endpoint", async () => {
      const row = await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", ctx.key).executeTakeFirst();
      return row ? { url: row.url, secret: row.secret, workspaceId: row.workspace_id, types: row.event_types ? fromJson<string[]>(row.event_types) : null } : null;
    });
  }

  /** Delivers one event with retries; false when the endpoint disappeared meanwhile. */
  async function deliver(ctx: restate.ObjectContext, event: OutboxEvent): Promise<boolean> {
    for (let attempt = 1; attempt <= backoff.length + 1; attempt++) {
      // Looked up before every attempt: a deleted endpoint abandons its pending deliveries.
      const endpoint = await endpointOf(ctx);
      if (!endpoint) return false;
      const result: AttemptResult = await step(ctx, `deliver event ${event.id} (attempt ${attempt})`, () => postEvent(endpoint.url, endpoint.secret, event, config.webhookTimeoutMs));
      const last = attempt === backoff.length + 1;
      const waitMs = result.ok || last ? null : backoff[attempt - 1]!;
      const now = await ctx.date.now();
      await dbStep(ctx, `record attempt ${attempt} of event ${event.id}`, db, (trx) =>
        trx
          .insertInto("webhook_deliveries")
          .values({
            id: newId("whd"),
            endpoint_id: ctx.key,
            event_id: event.id,
            attempt,
            status: result.ok ? "succeeded" : last ? "abandoned" : "failed",
            response_code: result.status ?? null,
            error: result.error ?? null,
            next_attempt_at: waitMs === null ? null : new Date(now + waitMs),
          })
          .execute()
          .then(() => undefined),
      );
      if (waitMs === null) return true;
      await ctx.sleep(waitMs);
    }
    return true;
  }

  return restate.object({
    name: "WebhookEndpoint",
    handlers: {
      /** Called once when the endpoint is created: it receives the events after this moment. */
      start: async (ctx: restate.ObjectContext, req: { afterEventId: number }): Promise<void> => {
        if (await ctx.get<PumpState>("pump")) return;
        const token = ctx.rand.uuidv4();
        ctx.set<PumpState>("pump", { cursor: req.afterEventId, token });
        ctx.objectSendClient(webhookApi, ctx.key).pump({ token });
      },

      pump: async (ctx: restate.ObjectContext, req: { token: string }): Promise<{ delivered: number } | { skipped: true }> => {
        const state = await ctx.get<PumpState>("pump");
        if (!state || state.token !== req.token) return { skipped: true };
        const endpoint = await endpointOf(ctx);
        if (!endpoint) {
          ctx.clear("pump");
          return { skipped: true };
        }
        const events = await step(ctx, `read events after ${state.cursor}`, () =>
          readEvents(db, state.cursor, BATCH, { workspaceId: endpoint.workspaceId, ...(endpoint.types ? { types: endpoint.types } : {}) }),
        );
        let cursor = state.cursor;
        let delivered = 0;
        for (const event of events) {
          // Journaled events come back with their dates as strings.
          const stillThere = await deliver(ctx, { ...event, createdAt: new Date(event.createdAt) });
          if (!stillThere) {
            ctx.clear("pump");
            return { delivered };
          }
          delivered++;
          cursor = event.id;
          ctx.set<PumpState>("pump", { cursor, token: state.token });
        }
        const token = ctx.rand.uuidv4();
        ctx.set<PumpState>("pump", { cursor, token });
        // A full batch means more are waiting: go on at once; otherwise look again after the poll interval.
        const delay = events.length === BATCH ? 0 : config.webhookPollMs;
        ctx.objectSendClient(webhookApi, ctx.key).pump({ token }, restate.rpc.sendOpts({ delay: { milliseconds: delay } }));
        return { delivered };
      },

      /** Deleting the endpoint: forget the pump (a scheduled one finds no token). */
      stop: async (ctx: restate.ObjectContext, _req: Record<string, never>): Promise<void> => {
        ctx.clear("pump");
      },
    },
  });
}

export type WebhookObject = ReturnType<typeof createWebhookObject>;
export const webhookApi: WebhookObject = { name: "WebhookEndpoint" } as WebhookObject;
