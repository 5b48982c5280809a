/*
 * Domain: one virtual object per custom domain (key: domain id) that checks its ownership —
 * right away when asked (AddDomain, VerifyDomain), then on a backoff schedule while unverified
 * and at a slow cadence once verified. Being an object, its checks never overlap.
 *
 *   verify ─────────────► look up DNS ─► apply check ─► schedule the next check (attempt 1)
 *   scheduled check ────► (token still current?) ─► look up DNS ─► apply check ─► schedule (attempt n+1)
 *   stop ───────────────► forget the schedule: a pending scheduled check finds no token
 *
 * The schedule lives in the object's state ({attempt, token, dueAt}: visible in the Restate UI)
 * and in custom_domains.next_check_at (visible in GetDomain). A scheduled check is a delayed
 * one-way call stored by restate-server, so it survives a restart of this process.
 */
import * as restate from "@restatedev/restate-sdk";
import { nextCheckDelayMs } from "../src/domain/checkSchedule.js";
import { QUERIES_PER_CHECK } from "../src/ownership/checkSlots.js";
import { applyDomainCheck, expectationsOf, observeDomain, unattachedTarget, type CheckOutcome } from "../src/ownership/domainCheck.js";
import { currentCertificate, needsOrder, newCertificateRow } from "../src/acme/certificateRows.js";
import { challengeFor } from "../src/acme/challengeChoice.js";
import { certificateApi } from "./certificate.js";
import { projectApi } from "./project.js";
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
    const row = await db.selectFrom("custom_domains").selectAll().where("id", "=", ctx.key).executeTakeFirst();
    if (!row || row.status === "removed") {
      ctx.clear("schedule");
      return { status: "removed", ownership: "Unknown", nextCheckAt: null };
    }
    const expected = expectationsOf(row, config);
    // The DNS answers are journaled: a retry after a crash decides on the same observation.
    const seen = await step(ctx, diagnose ? "look up DNS records and diagnose" : "look up DNS records", () => observeDomain(db, dns, row, expected, { diagnose }));
    const now = await ctx.date.now();
    const outcome = await dbStep(ctx, "apply ownership check", db, (trx) =>
      applyDomainCheck(trx, {
        domainId: ctx.key,
        expected,
        seen,
        now: new Date(now),
        lostGraceMs: config.domainLostGraceMs,
        attempt,
        diagnose,
        checksPerSecond,
        nextCheckDelayMs: (status, n) => nextCheckDelayMs(schedule, status, n),
      }),
    );
    if (outcome.status === "verified") {
      // Proven: the hostname is served by its environment (through the project's lock).
      const target = await step(ctx, "find serving deployment", () => unattachedTarget(db, ctx.key));
      if (target) {
        await ctx.objectClient(projectApi, target.projectId).assignDomains({ deploymentId: target.deploymentId, domains: [{ hostname: target.hostname, sticky: "environment" }] });
      }
      // Proven and TLS-enabled: its certificate is ordered without anyone asking.
      if (config.autoTls && config.masterKeys.length > 0) {
        const order = await dbStep(ctx, "order certificate if missing", db, async (trx) => {
          const domain = await trx.selectFrom("custom_domains").selectAll().where("id", "=", ctx.key).forUpdate().executeTakeFirstOrThrow();
          if (!domain.tls || !needsOrder(await currentCertificate(trx, domain))) return null;
          // A wildcard waits for its _acme-challenge delegation instead of failing attempt after attempt.
          if ("problem" in challengeFor(domain, config)) return null;
          return { hostname: domain.hostname, certificateId: await newCertificateRow(trx, domain) };
        });
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

  return restate.object({
    name: "Domain",
    handlers: {
      /** Checks now and restarts the backoff (AddDomain; VerifyDomain with `diagnose`). */
      verify: async (ctx: restate.ObjectContext, req: { diagnose?: boolean }): Promise<DomainCheckResult> => {
        try {
          return await check(ctx, 1, req.diagnose ?? false);
        } catch (error) {
          throw toTerminal(error);
        }
      },

      /** The delayed call of the schedule; acts only while its token is the current one. */
      scheduledCheck: async (ctx: restate.ObjectContext, req: { token: string }): Promise<DomainCheckResult | { skipped: true }> => {
        const current = await ctx.get<Schedule>("schedule");
        if (!current || current.token !== req.token) return { skipped: true };
        try {
          return await check(ctx, current.attempt + 1, false);
        } catch (error) {
          throw toTerminal(error);
        }
      },

      /** Forgets the schedule (RemoveDomain). */
      stop: async (ctx: restate.ObjectContext, _req: Record<string, never>): Promise<void> => {
        ctx.clear("schedule");
      },
    },
  });
}

export type DomainObject = ReturnType<typeof createDomainObject>;
/** Typed reference for clients (the API, the object itself) that need no dependencies. */
export const domainApi: DomainObject = { name: "Domain" } as DomainObject;
