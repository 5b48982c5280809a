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
 * repeated after a crash (between the request and the journal) is the "at least once". Every
 * POST goes through src/net/guardedFetch.ts: the target's address is judged when the connection
 * is made, so a tenant's URL never reaches the platform's private networks.
 *
 *   remove (DeleteWebhookEndpoint) ──► the row goes (a shared handler: it never waits for a
 *             delivery in flight, which finds the endpoint gone and ends)
 */
import * as restate from "@restatedev/restate-sdk";
import { newId } from "../src/db/ids.js";
import { webhookDeliveries } from "../src/telemetry/metrics.js";
import { readEvents, type OutboxEvent } from "../src/db/events.js";
import { postEvent, type AttemptResult } from "../src/webhooks/postEvent.js";
import { loadDeliveryTarget, recordDeliveryAttempt, removeWebhookEndpoint } from "../src/webhooks/endpoints.js";
import { z } from "zod";
import type { WorkflowDeps } from "./deps.js";
import { input, INTERNAL, serviceOptions, token } from "./handlerOptions.js";
import { dbStep, step } from "./steps.js";
import { webhookApi } from "./handles.js";

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
      return loadDeliveryTarget(db, ctx.key);
    });
  }

  /** Delivers one event with retries; false when the endpoint disappeared meanwhile. */
  async function deliver(ctx: restate.ObjectContext, event: OutboxEvent): Promise<boolean> {
    for (let attempt = 1; attempt <= backoff.length + 1; attempt++) {
      // Looked up before every attempt: a deleted endpoint abandons its pending deliveries.
      const endpoint = await endpointOf(ctx);
      if (!endpoint) return false;
      const result: AttemptResult = await step(ctx, `deliver event ${event.id} (attempt ${attempt})`, async () => {
        const attempted = await postEvent(endpoint.url, endpoint.secret, event, { timeoutMs: config.webhookTimeoutMs, allowedRanges: config.outboundAllowedRanges });
        webhookDeliveries.inc({ outcome: attempted.ok ? "delivered" : "failed" });
        return attempted;
      });
      const last = attempt === backoff.length + 1;
      const waitMs = result.ok || last ? null : backoff[attempt - 1]!;
      const now = await ctx.date.now();
      const recorded = await dbStep(ctx, `record attempt ${attempt} of event ${event.id}`, db, (trx) =>
        recordDeliveryAttempt(trx, {
          id: newId("whd"),
          endpoint_id: ctx.key,
          event_id: event.id,
          attempt,
          status: result.ok ? "succeeded" : last ? "abandoned" : "failed",
          response_code: result.status ?? null,
          error: result.error ?? null,
          next_attempt_at: waitMs === null ? null : new Date(now + waitMs),
        }),
      );
      // Deleted while the POST was in flight: its deliveries end here.
      if (!recorded) return false;
      if (waitMs === null) return true;
      await ctx.sleep(waitMs);
    }
    return true;
  }

  const { exclusive, shared } = restate.handlers.object;
  return restate.object({
    name: "WebhookEndpoint",
    options: serviceOptions(config, "pause"),
    handlers: {
      /** Called once when the endpoint is created: it receives the events after this moment. */
      start: exclusive({ input: input(z.object({ afterEventId: z.number().int().nonnegative() })) }, async (ctx: restate.ObjectContext, req): Promise<void> => {
        if (await ctx.get<PumpState>("pump")) return;
        const token = ctx.rand.uuidv4();
        ctx.set<PumpState>("pump", { cursor: req.afterEventId, token });
        ctx.objectSendClient(webhookApi, ctx.key).pump({ token });
      }),

      pump: exclusive({ ...INTERNAL, input: input(z.object({ token })) }, async (ctx: restate.ObjectContext, req): Promise<{ delivered: number } | { skipped: true }> => {
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
      }),

      /**
       * DeleteWebhookEndpoint: deletes the tenant's endpoint row (NotFound, exactly as for a missing
       * one, when it is another tenant's). Through Restate so that a retry with the caller's
       * idempotency key gets the first answer, and a retry of nobody's delete gets NotFound.
       */
      remove: shared({ input: input(z.object({ tenantId: z.string().min(1).max(64) })) }, async (ctx: restate.ObjectSharedContext, req): Promise<{ removed: true }> =>
        dbStep(ctx, "delete endpoint", db, (trx) => removeWebhookEndpoint(trx, { endpointId: ctx.key, tenantId: req.tenantId })),
      ),

      /** Deleting the endpoint: forget the pump (a scheduled one finds no token). */
      stop: exclusive({ input: input(z.object({})) }, async (ctx: restate.ObjectContext): Promise<void> => {
        ctx.clear("pump");
      }),
    },
  });
}

export type WebhookObject = ReturnType<typeof createWebhookObject>;
