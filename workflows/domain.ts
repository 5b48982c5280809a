/*
 * Domain: one virtual object per custom domain (key: domain id) that checks its ownership —
 * right away when asked (AddDomain, VerifyDomain), then on a backoff schedule while unverified
 * and at a slow cadence once verified. Being an object, its checks never overlap.
 *
 *   verify ─────────────► look up DNS ─► apply check ─► schedule the next check (attempt 1)
 *   scheduled check ────► (token still current?) ─► look up DNS ─► apply check ─► schedule (attempt n+1)
 *   stop ───────────────► forget the schedule: a pending scheduled check finds no token
 *
 * Every read that decides a branch is a journaled step ("load domain", "look up DNS records",
 * "find serving deployment"), so a replay after a crash takes the path the journal recorded even
 * if the domain changed meanwhile. A claim that lost its hostname in this check has its routes
 * withdrawn through the losing project's Project object before the winner's are assigned.
 *
 * The schedule lives in the object's state ({attempt, token, dueAt}: visible in the Restate UI)
 * and in custom_domains.next_check_at (visible in GetDomain). A scheduled check is a delayed
 * one-way call stored by restate-server, so it survives a restart of this process.
 */
import * as restate from "@restatedev/restate-sdk";
import { nextCheckDelayMs } from "../src/customDomains/checkSchedule.js";
import { QUERIES_PER_CHECK } from "../src/customDomains/checkSlots.js";
import { applyDomainCheck, expectationsOf, loadCheckedDomain, observeDomain, unattachedTarget, type CheckOutcome } from "../src/customDomains/ownershipChecks.js";
import { z } from "zod";
import { input, INTERNAL, serviceOptions, token } from "./handlerOptions.js";
import { certificateToOrder } from "../src/acme/certificateRows.js";
import { certificateApi, domainApi, projectApi } from "./handles.js";
import { dnsChecks } from "../src/telemetry/metrics.js";

/** switchyard_dns_checks_total's outcome label for the ownership a check found. */
const CHECK_OUTCOME = { True: "verified", False: "not_verified", Unknown: "unknown" } as const;
import type { WorkflowDeps } from "./deps.js";
import { dbStep, step, toTerminal } from "./steps.js";

interface Schedule {
  attempt: number;
  token: string;
  dueAt: string;
}

export interface DomainCheckResult {
  status: CheckOutcome["status"];
  ownership: CheckOutcome["ownership"];
  nextCheckAt: string | null;
}

export function createDomainObject(deps: WorkflowDeps) {
  const { db, config, dns } = deps;
  const schedule = { backoffMs: config.domainCheckBackoffMs, verifiedEveryMs: config.domainRecheckMs };
  const checksPerSecond = Math.max(1, Math.floor(config.dnsQueriesPerSecond / QUERIES_PER_CHECK));

  async function check(ctx: restate.ObjectContext, attempt: number, diagnose: boolean): Promise<DomainCheckResult> {
    const row = await step(ctx, "load domain", async () => (await loadCheckedDomain(db, ctx.key)) ?? null);
    if (!row) {
      ctx.clear("schedule");
      return { status: "removed", ownership: "Unknown", nextCheckAt: null };
    }
    const expected = expectationsOf(row, config);
    // The DNS answers are journaled: a retry after a crash decides on the same observation.
    const seen = await step(ctx, diagnose ? "look up DNS records and diagnose" : "look up DNS records", () => observeDomain(db, dns, row, expected, { diagnose }));
    const now = await ctx.date.now();
    const outcome = await dbStep(ctx, "apply ownership check", db, async (trx) => {
      const checked = await applyDomainCheck(trx, {
        domainId: ctx.key,
        expected,
        seen,
        now: new Date(now),
        lostGraceMs: config.domainLostGraceMs,
        attempt,
        diagnose,
        checksPerSecond,
        nextCheckDelayMs: (status, n) => nextCheckDelayMs(schedule, status, n),
      });
      dnsChecks.inc({ outcome: checked.status === "removed" ? "removed" : CHECK_OUTCOME[checked.ownership] });
      return checked;
    });
    // Whoever lost the hostname stops serving it first (under that project's lock).
    for (const lost of outcome.withdraw) {
      await ctx.objectClient(projectApi, lost.projectId).withdrawHostnames({ hostnames: [lost.hostname], reason: lost.reason });
    }
    if (outcome.status === "verified") {
      // Proven: the hostname is served by its environment (through the project's lock).
      const target = await step(ctx, "find serving deployment", () => unattachedTarget(db, ctx.key));
      if (target) {
        await ctx.objectClient(projectApi, target.projectId).assignDomains({ deploymentId: target.deploymentId, domains: [{ hostname: target.hostname, sticky: "environment" }] });
      }
      // Proven and TLS-enabled: its certificate is ordered without anyone asking.
      if (config.autoTls && config.masterKeys.length > 0) {
        const order = await dbStep(ctx, "order certificate if missing", db, (trx) => certificateToOrder(trx, ctx.key, config));
        if (order) ctx.objectSendClient(certificateApi, order.hostname).issue({ domainId: ctx.key, certificateId: order.certificateId });
      }
    }
    if (outcome.nextCheckInMs === null) {
      ctx.clear("schedule");
      return { status: outcome.status, ownership: outcome.ownership, nextCheckAt: null };
    }
    const token = ctx.rand.uuidv4();
    const dueAt = new Date(now + outcome.nextCheckInMs).toISOString();
    ctx.set<Schedule>("schedule", { attempt, token, dueAt });
    ctx.objectSendClient(domainApi, ctx.key).scheduledCheck({ token }, restate.rpc.sendOpts({ delay: { milliseconds: outcome.nextCheckInMs } }));
    return { status: outcome.status, ownership: outcome.ownership, nextCheckAt: dueAt };
  }

  const { exclusive } = restate.handlers.object;
  return restate.object({
    name: "Domain",
    options: serviceOptions(config, "pause"),
    handlers: {
      /** Checks now and restarts the backoff (AddDomain; VerifyDomain with `diagnose`). */
      verify: exclusive({ input: input(z.object({ diagnose: z.boolean().optional() })) }, async (ctx: restate.ObjectContext, req): Promise<DomainCheckResult> => {
        try {
          return await check(ctx, 1, req.diagnose ?? false);
        } catch (error) {
          throw toTerminal(error);
        }
      }),

      /** The delayed call of the schedule; acts only while its token is the current one. */
      scheduledCheck: exclusive({ ...INTERNAL, input: input(z.object({ token })) }, async (ctx: restate.ObjectContext, req): Promise<DomainCheckResult | { skipped: true }> => {
        const current = await ctx.get<Schedule>("schedule");
        if (!current || current.token !== req.token) return { skipped: true };
        try {
          return await check(ctx, current.attempt + 1, false);
        } catch (error) {
          throw toTerminal(error);
        }
      }),

      /** Forgets the schedule (RemoveDomain). */
      stop: exclusive({ input: input(z.object({})) }, async (ctx: restate.ObjectContext): Promise<void> => {
        ctx.clear("schedule");
      }),
    },
  });
}

export type DomainObject = ReturnType<typeof createDomainObject>;
