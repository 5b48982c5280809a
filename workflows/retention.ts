/*
 * Retention — one virtual object (key "feeds") that prunes the append-only tables on a schedule.
 * The schedule is a delayed call to itself, stored by restate-server: it survives restarts of
 * every switchyard process, and there is one schedule whatever the number of replicas.
 *
 *   start (every `switchyard serve`) ──► schedule current? nothing
 *                                        none, or long overdue (its call was lost)? prune now
 *   prune {token} ──► not the scheduled token? nothing
 *                 ──► schedule the next prune (new token, after SWITCHYARD_RETENTION_INTERVAL)
 *                 ──► prune changes ──► prune events ──► prune operations ──► prune heartbeats
 *
 * The next prune is scheduled before any work, and each step's retries are bounded (a failure is
 * recorded in the object's state `last` and the next run tries again), so an invocation never
 * holds the object for long and the schedule never stops. For the same reason an invocation that
 * still fails is killed rather than paused: a paused one would hold the object's lock, and the
 * next run is already scheduled.
 */
import * as restate from "@restatedev/restate-sdk";
import { z } from "zod";
import { FORGET_AFTER_MS, pruneHeartbeats } from "../src/cluster/heartbeats.js";
import { pruneFeed, pruneOperations } from "../src/db/retention.js";
import type { WorkflowDeps } from "./deps.js";
import { input, INTERNAL, serviceOptions, token } from "./handlerOptions.js";
import { retentionApi } from "./handles.js";

interface Schedule {
  token: string;
  dueAt: string;
}

type StepOutcome<T> = T | { error: string };

export interface PruneOutcome {
  changes: StepOutcome<{ deleted: number; prunedThrough: number }>;
  events: StepOutcome<{ deleted: number; prunedThrough: number }>;
  operations: StepOutcome<{ deleted: number }>;
  /** Agents and gateways not heard from for FORGET_AFTER_MS. */
  heartbeats: StepOutcome<{ deleted: number }>;
}


/** A schedule whose call is this much past due was lost (restate-server's state reset, a paused invocation). */
const LOST_AFTER_MS = 60_000;

export function createRetentionObject(deps: WorkflowDeps) {
  const { db, config } = deps;
  const windows = config.retention;

  /** One pruning step; retried a few times, then recorded as failed instead of blocking the object. */
  async function bounded<T>(ctx: restate.ObjectContext, name: string, work: () => Promise<T>): Promise<StepOutcome<T>> {
    try {
      return await ctx.run(name, work, { maxRetryAttempts: 4, initialRetryInterval: 500 });
    } catch (error) {
      if (error instanceof restate.TerminalError) return { error: error.message.slice(0, 500) };
      throw error;
    }
  }

  const { exclusive } = restate.handlers.object;
  return restate.object({
    name: "Retention",
    options: serviceOptions(config, "kill"),
    handlers: {
      /** Idempotent: any number of replicas call it at start; one schedule results. */
      start: exclusive({ input: input(z.object({})) }, async (ctx: restate.ObjectContext): Promise<{ scheduled: boolean; dueAt: string }> => {
        const schedule = await ctx.get<Schedule>("schedule");
        const now = await ctx.date.now();
        if (schedule && Date.parse(schedule.dueAt) > now - windows.intervalMs - LOST_AFTER_MS) return { scheduled: false, dueAt: schedule.dueAt };
        const next = ctx.rand.uuidv4();
        const dueAt = new Date(now).toISOString();
        ctx.set<Schedule>("schedule", { token: next, dueAt });
        ctx.objectSendClient(retentionApi, ctx.key).prune({ token: next });
        return { scheduled: true, dueAt };
      }),

      /** The scheduled run; not callable through the ingress. */
      prune: exclusive({ ...INTERNAL, input: input(z.object({ token })) }, async (ctx: restate.ObjectContext, req): Promise<PruneOutcome | { skipped: true }> => {
        const schedule = await ctx.get<Schedule>("schedule");
        if (!schedule || schedule.token !== req.token) return { skipped: true };
        const now = await ctx.date.now();
        const next = ctx.rand.uuidv4();
        ctx.set<Schedule>("schedule", { token: next, dueAt: new Date(now + windows.intervalMs).toISOString() });
        ctx.objectSendClient(retentionApi, ctx.key).prune({ token: next }, restate.rpc.sendOpts({ delay: { milliseconds: windows.intervalMs } }));

        const outcome: PruneOutcome = {
          changes: await bounded(ctx, "prune changes", () => pruneFeed(db, "changes", new Date(now - windows.changesMs))),
          events: await bounded(ctx, "prune events", () => pruneFeed(db, "events", new Date(now - windows.eventsMs))),
          operations: await bounded(ctx, "prune operations", async () => ({ deleted: await pruneOperations(db, new Date(now - windows.operationsMs)) })),
          heartbeats: await bounded(ctx, "prune heartbeats", async () => ({ deleted: await pruneHeartbeats(db, new Date(now - FORGET_AFTER_MS)) })),
        };
        ctx.set("last", { at: new Date(now).toISOString(), ...outcome });
        return outcome;
      }),
    },
  });
}

export type RetentionObject = ReturnType<typeof createRetentionObject>;
