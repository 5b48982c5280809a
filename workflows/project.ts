/*
 * Project — a Restate virtual object keyed by project id: the one lock over a project's routing
 * state (routes, gateway configs, the live pointer, the rolled-back flag). Every handler is
 * exclusive, so deploys, promotes, rollbacks and domain moves of one project never interleave,
 * while different projects run in parallel. Each handler is one short critical section:
 *
 *   promote / rollback: what the API calls first; a target in standby answers target_not_running, then
 *   changeLive (shared: holds no lock while it waits)
 *     ├─► wake: a target in standby is desired running again (gates checked first)
 *     ├─► wait until its instances run in every region (durable sleeps, bounded)
 *     └─► promote / rollback
 *   promote ──► [swap live] judges whether the API gate has specs to compare; if so: [check api changes], [swap live] again
 *   promote / rollback / activate ──► [swap live] one transaction: routes → pointer/flag → gateway configs
 *                                        │
 *                                        ├─► disarm the target's pending standby (it is live again)
 *                                        └─► arm standby of the previous live after the grace (one call in flight per deployment)
 *   assignDomains / switchDomains / assignFrontlineRoutes ──► one transaction each
 *   standby (delayed call) ──► previous live → standby, unless it became live again (re-armed for later: sent again)
 *
 * Long work (builds, waiting for instances, ACME) never runs here.
 */
import * as restate from "@restatedev/restate-sdk";
import { assignDomains, type AssignDomainsResult, type DomainAssignment } from "../src/routing/assignDomains.js";
import { holdBackFromLive, swapLive, type BreakingApiChangeNotice, type LiveSwapResult } from "../src/routing/liveSwap.js";
import { checkBreakingChanges, GateError } from "../src/domain/gates.js";
import { apiChangesAgainstLive } from "../src/openapi/apiGate.js";
import type { SpecChangeRecord } from "../src/openapi/specDiffer.js";
import { standbyDeployment } from "../src/routing/standby.js";
import { armStandby, disarmStandby, judgeStandbyCall, standbyDone, type StandbyCall, type StandbySchedule } from "../src/routing/standbySchedule.js";
import { wakeTarget } from "../src/routing/wakeTarget.js";
import { allRegionsRunning } from "../src/db/instances.js";
import { revertAssignment, switchDomains, type SwitchDomainsResult } from "../src/routing/switchDomains.js";
import { finishDeployment, type DeploymentContext } from "../src/db/deployments.js";
import { addNetworkRoute, refreshGatewayConfigs, removeNetworkRoute, updateNetworkRoute, type AddRouteInput, type RouteUpdate } from "../src/routing/networkRoutes.js";
import type { NetworkRoute } from "../src/db/schema.js";
import { removeCustomDomain, withdrawUnclaimedHostnames } from "../src/customDomains/removal.js";
import { z } from "zod";
import type { WorkflowDeps } from "./deps.js";
import { hostname, hostnames, id, input, INTERNAL, serviceOptions, token } from "./handlerOptions.js";
import { dbStep, step, toTerminal } from "./steps.js";
import { projectApi } from "./handles.js";
import { statusOfRule } from "../src/domain/ruleCodes.js";

export interface PromoteRequest {
  deploymentId: string;
  /** Promote even when the spec's breaking changes would be blocked by the project's policy. */
  allowBreakingChanges?: boolean;
}
export interface RollbackRequest {
  deploymentId: string;
  sourceDeploymentId?: string;
}
export interface LiveChangeRequest {
  mode: "promote" | "rollback";
  deploymentId: string;
  /** Promote only: see PromoteRequest. */
  allowBreakingChanges?: boolean;
  /** Rollback only: the deployment the caller believes is live. */
  sourceDeploymentId?: string;
}
export interface ActivateRequest {
  deployment: DeploymentContext;
  hostnames: { hostname: string; sticky: "live" | "environment" }[];
}

/** What the API gate decided: changes to report (warn), or a refusal (block). */
interface ApiGateResult {
  changes: SpecChangeRecord[];
  notice?: BreakingApiChangeNotice;
  blocked?: { message: string; notice: BreakingApiChangeNotice };
}

export function createProjectObject(deps: WorkflowDeps) {
  const { db, config, differ } = deps;
  const apex = config.platformApex;

  /** Sends the delayed `standby` call the schedule asks for, if any. */
  function sendStandby(ctx: restate.ObjectContext, deploymentId: string, call: StandbyCall | undefined) {
    if (!call) return;
    ctx.objectSendClient(projectApi, ctx.key).standby({ deploymentId, token: call.token }, restate.rpc.sendOpts({ delay: { milliseconds: call.delayMs } }));
  }

  /** Arms `deploymentId`'s standby for `delayMs` after `from`, a journaled time (src/routing/standbySchedule.ts). */
  function scheduleStandby(ctx: restate.ObjectContext, schedule: StandbySchedule, deploymentId: string, delayMs: number, from: number) {
    sendStandby(ctx, deploymentId, armStandby(schedule, deploymentId, from + delayMs, from, () => ctx.rand.uuidv4()));
  }

  /** After a swap: the new live deployment keeps running; the old one waits out its grace. */
  async function reschedule(ctx: restate.ObjectContext, result: LiveSwapResult) {
    const schedule = (await ctx.get<StandbySchedule>("standby")) ?? {};
    const live = result.liveDeploymentId;
    if (live) disarmStandby(schedule, live);
    const previous = result.previousLiveDeploymentId;
    if (previous && previous !== live) scheduleStandby(ctx, schedule, previous, config.standbyGraceMs, result.committedAt);
    ctx.set("standby", schedule);
  }

  /**
   * Waits, without holding the project's lock, until the deployment has a running instance in
   * every region — durable sleeps between looks, at most SWITCHYARD_INSTANCE_READY_TIMEOUT.
   */
  async function awaitInstances(ctx: restate.ObjectSharedContext, deploymentId: string, attempt: number) {
    const deadline = (await ctx.date.now()) + config.instanceReadyTimeoutMs;
    for (let look = 1, delay = 100; ; look++, delay = Math.min(delay * 2, 1000)) {
      if (await step(ctx, `instances running? (attempt ${attempt}, look ${look})`, () => allRegionsRunning(db, deploymentId))) return;
      if ((await ctx.date.now()) + delay > deadline) {
        throw new restate.TerminalError(
          `the instances of deployment ${deploymentId} did not run again within ${Math.round(config.instanceReadyTimeoutMs / 1000)} s; live traffic was not moved`,
          { errorCode: statusOfRule("failed_precondition") },
        );
      }
      await ctx.sleep(delay);
    }
  }

  /**
   * The API gate (src/domain/gates.ts): the target's breaking changes against the live deployment,
   * found in one step (journaled, so a retry judges the same changes), then the project's policy.
   */
  async function apiGate(ctx: restate.ObjectContext, name: string, targetId: string, allowBreakingChanges: boolean): Promise<ApiGateResult> {
    const found = await step(ctx, name, () =>
      apiChangesAgainstLive(db, differ, ctx.key, targetId).catch((error: unknown) => {
        throw toTerminal(error);
      }),
    );
    if (!found.liveDeploymentId || found.breaking.length === 0) return { changes: [] };
    const notice = (action: BreakingApiChangeNotice["action"]): BreakingApiChangeNotice => ({
      liveDeploymentId: found.liveDeploymentId!,
      policy: found.policy,
      action,
      total: found.total,
      changes: found.breaking,
    });
    try {
      const verdict = checkBreakingChanges(found.policy, { id: targetId }, found.liveDeploymentId, found.breaking, allowBreakingChanges, found.total);
      return verdict.kind === "pass" ? { changes: [] } : { changes: found.breaking, notice: notice("promoted") };
    } catch (error) {
      if (!(error instanceof GateError)) throw error;
      return { changes: found.breaking, blocked: { message: error.message, notice: notice("blocked") } };
    }
  }

  const swap = async (ctx: restate.ObjectContext, step: string, input: Parameters<typeof swapLive>[1]) => {
    const result = await dbStep(ctx, step, db, (trx) => swapLive(trx, input));
    if (result.outcome === "promoted" || result.outcome === "rolled_back") await reschedule(ctx, result);
    return result;
  };

  // Exclusive handlers that only other handlers call (INTERNAL) are refused by the ingress.
  const { exclusive, shared } = restate.handlers.object;
  return restate.object({
    name: "Project",
    options: serviceOptions(config, "kill"),
    handlers: {
      /**
       * Promote or Rollback of a target in standby (the API calls promote/rollback first, and
       * this when they answer target_not_running). It has no instances: it is woken first, and the
       * swap waits until its instances run, so live traffic never points at a deployment that is
       * not running. Shared, so the lock is held only by wake and the swap.
       */
      changeLive: shared({ input: input(schema.changeLive) }, async (ctx: restate.ObjectSharedContext, req): Promise<LiveSwapResult> => {
        const self = ctx.objectClient(projectApi, ctx.key);
        const swap = () =>
          req.mode === "promote"
            ? self.promote({ deploymentId: req.deploymentId, allowBreakingChanges: req.allowBreakingChanges })
            : self.rollback({ deploymentId: req.deploymentId, sourceDeploymentId: req.sourceDeploymentId });
        let result = await swap();
        // Bounded: a target that keeps going back to standby between wake and swap gives up.
        for (let attempt = 1; result.outcome === "target_not_running"; attempt++) {
          if (attempt > 3) throw new restate.TerminalError(`deployment ${req.deploymentId} kept going to standby; retry`, { errorCode: statusOfRule("failed_precondition") });
          await self.wake(req);
          await awaitInstances(ctx, req.deploymentId, attempt);
          result = await swap();
        }
        return result;
      }),

      /**
       * A target in standby is desired running again (its gates checked first). Its standby is
       * scheduled again, after the longest wait for its instances plus the grace period — the swap
       * disarms it when the target goes live, so a live change that never happens leaves nothing
       * running for good.
       */
      wake: exclusive({ ...INTERNAL, input: input(schema.changeLive) }, async (ctx: restate.ObjectContext, req): Promise<{ woken: boolean }> => {
        const result = await dbStep(ctx, "wake target", db, (trx) =>
          wakeTarget(trx, { projectId: ctx.key, targetDeploymentId: req.deploymentId, mode: req.mode, expectedSourceId: req.sourceDeploymentId }),
        );
        if (result.woken) {
          const schedule = (await ctx.get<StandbySchedule>("standby")) ?? {};
          scheduleStandby(ctx, schedule, req.deploymentId, config.instanceReadyTimeoutMs + config.standbyGraceMs, await ctx.date.now());
          ctx.set("standby", schedule);
        }
        return result;
      }),

      /**
       * One step when the API gate has nothing to compare (no spec on either side, policy allow):
       * the swap judges that inside its transaction. Otherwise the swap changes nothing, the gate
       * diffs the specs in a step of its own (oasdiff is a child process; no transaction waits on
       * it) and the swap runs again with its verdict.
       */
      promote: exclusive({ input: input(schema.promote) }, async (ctx: restate.ObjectContext, req): Promise<LiveSwapResult> => {
        const target = { projectId: ctx.key, targetDeploymentId: req.deploymentId, mode: "promote" as const, platformApex: apex };
        const first = await swap(ctx, "swap live (promote)", { ...target, apiGatePending: true });
        if (first.outcome !== "api_gate_needed") return first;
        const api = await apiGate(ctx, "check api changes (promote)", req.deploymentId, req.allowBreakingChanges ?? false);
        if (api.blocked) throw new restate.TerminalError(api.blocked.message, { errorCode: statusOfRule("failed_precondition") });
        const result = await swap(ctx, "swap live (promote, api gate passed)", { ...target, breakingApiChanges: api.notice });
        return result.outcome === "promoted" && api.notice ? { ...result, breakingChanges: api.changes } : result;
      }),

      rollback: exclusive({ input: input(schema.rollback) }, async (ctx: restate.ObjectContext, req): Promise<LiveSwapResult> =>
        swap(ctx, "swap live (rollback)", {
          projectId: ctx.key,
          targetDeploymentId: req.deploymentId,
          mode: "rollback",
          expectedSourceId: req.sourceDeploymentId,
          platformApex: apex,
        }),
      ),

      /**
       * Called by the Deployment workflow when a production deploy finishes: it becomes READY and,
       * unless the project is rolled back, live — in one transaction, so nobody sees it ready but
       * not yet live.
       */
      activate: exclusive({ ...INTERNAL, input: input(schema.activate) }, async (ctx: restate.ObjectContext, req): Promise<LiveSwapResult> => {
        const deployment = req.deployment;
        // Under `block`, breaking API changes keep a deploy from going live by itself: it ends
        // ready, and a promote with allow_breaking_changes takes it live.
        const api = await apiGate(ctx, "check api changes (activate)", deployment.id, false);
        if (api.blocked) {
          const notice = api.blocked.notice;
          return dbStep(ctx, "mark ready (breaking api changes keep it from going live)", db, (trx) => holdBackFromLive(trx, deployment, notice, api.changes));
        }
        const result = await dbStep(ctx, "mark ready and swap live (activate)", db, async (trx) => {
          await finishDeployment(trx, deployment, "ready");
          return swapLive(trx, {
            projectId: ctx.key,
            targetDeploymentId: deployment.id,
            mode: "activate",
            ensureHostnames: req.hostnames,
            platformApex: apex,
            breakingApiChanges: api.notice,
          });
        });
        if (result.outcome === "promoted") await reschedule(ctx, result);
        return result;
      }),

      assignDomains: exclusive({ input: input(schema.assignDomains) }, async (ctx: restate.ObjectContext, req): Promise<AssignDomainsResult> =>
        dbStep(ctx, "assign domains", db, (trx) => assignDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),
      ),

      switchDomains: exclusive({ input: input(schema.switchDomains) }, async (ctx: restate.ObjectContext, req): Promise<SwitchDomainsResult> =>
        dbStep(ctx, "switch domains", db, (trx) => switchDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),
      ),

      assignFrontlineRoutes: exclusive({ input: input(schema.assignFrontlineRoutes) }, async (ctx: restate.ObjectContext, req): Promise<SwitchDomainsResult> =>
        dbStep(ctx, "assign frontline routes", db, (trx) => switchDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),
      ),

      /** Compensation of assignDomains for a deploy that failed afterwards. */
      revertDomains: exclusive({ ...INTERNAL, input: input(schema.revertDomains) }, async (ctx: restate.ObjectContext, req): Promise<{ reverted: string[] }> =>
        dbStep(ctx, "revert domains", db, (trx) => revertAssignment(trx, { projectId: ctx.key, ...req, platformApex: apex })),
      ),

      /** Rewrites the gateway configs of hostnames (a certificate was issued for them). */
      refreshGatewayConfigs: exclusive({ ...INTERNAL, input: input(schema.refreshGatewayConfigs) }, async (ctx: restate.ObjectContext, req): Promise<{ refreshed: string[] }> =>
        dbStep(ctx, "refresh gateway configs", db, async (trx) => ({ refreshed: await refreshGatewayConfigs(trx, { projectId: ctx.key, hostnames: req.hostnames, platformApex: apex }) })),
      ),

      addRoute: exclusive({ input: input(schema.addRoute) }, async (ctx: restate.ObjectContext, req): Promise<NetworkRoute> =>
        dbStep(ctx, "add route", db, (trx) => addNetworkRoute(trx, { ...req, projectId: ctx.key, platformApex: apex })),
      ),

      updateRoute: exclusive({ input: input(schema.updateRoute) }, async (ctx: restate.ObjectContext, req): Promise<NetworkRoute> =>
        dbStep(ctx, "update route", db, (trx) => updateNetworkRoute(trx, { ...req, platformApex: apex })),
      ),

      removeRoute: exclusive({ input: input(schema.removeRoute) }, async (ctx: restate.ObjectContext, req): Promise<{ version: number }> =>
        dbStep(ctx, "remove route", db, async (trx) => ({ version: await removeNetworkRoute(trx, { routeId: req.routeId, platformApex: apex }) })),
      ),

      /** RemoveDomain: the claim, its routes, challenges and certificates go in one transaction. */
      removeDomain: exclusive({ input: input(schema.removeDomain) }, async (ctx: restate.ObjectContext, req): Promise<{ removed: boolean }> =>
        dbStep(ctx, "remove domain", db, (trx) => removeCustomDomain(trx, { ...req, projectId: ctx.key, tombstoneMs: config.domainTombstoneMs })),
      ),

      /** A claim of the project was revoked or taken over (the Domain object calls this right after). */
      withdrawHostnames: exclusive({ ...INTERNAL, input: input(schema.withdrawHostnames) }, async (ctx: restate.ObjectContext, req): Promise<{ withdrawn: string[] }> =>
        dbStep(ctx, "withdraw hostnames", db, async (trx) => ({ withdrawn: await withdrawUnclaimedHostnames(trx, { projectId: ctx.key, ...req }) })),
      ),

      /**
       * Delayed call scheduled by a swap or a wake. It acts only while its token is the one in
       * flight and the standby is armed and due: a deployment live again disarmed it, and one
       * re-armed for later sends the call again for the rest of the wait.
       */
      standby: exclusive({ ...INTERNAL, input: input(schema.standby) }, async (ctx: restate.ObjectContext, req) => {
        const schedule = (await ctx.get<StandbySchedule>("standby")) ?? {};
        const verdict = judgeStandbyCall(schedule, req.deploymentId, req.token, await ctx.date.now());
        if (verdict.kind === "stale") return { outcome: "cancelled" as const };
        if (verdict.kind === "disarmed") {
          ctx.set("standby", schedule);
          return { outcome: "cancelled" as const };
        }
        if (verdict.kind === "postponed") {
          sendStandby(ctx, req.deploymentId, verdict.call);
          ctx.set("standby", schedule);
          return { outcome: "postponed" as const };
        }
        const result = await dbStep(ctx, "standby previous live", db, (trx) => standbyDeployment(trx, { projectId: ctx.key, deploymentId: req.deploymentId }));
        standbyDone(schedule, req.deploymentId);
        ctx.set("standby", schedule);
        return result;
      }),
    },
  });
}

/** The inputs of the Project object's handlers. */
const sticky = z.enum(["commit", "branch", "environment", "live"]);
const routeFields = {
  path: z.string().max(512),
  port: z.number().int(),
  protocol: z.enum(["http", "https", "grpc", "tcp"]),
  weight: z.number().int(),
  stripPrefix: z.boolean(),
};
const schema = {
  changeLive: z.object({ mode: z.enum(["promote", "rollback"]), deploymentId: id, sourceDeploymentId: id.optional(), allowBreakingChanges: z.boolean().optional() }),
  promote: z.object({ deploymentId: id, allowBreakingChanges: z.boolean().optional() }),
  rollback: z.object({ deploymentId: id, sourceDeploymentId: id.optional() }),
  activate: z.object({
    // The fields finishDeployment reads; the rest of the context passes through.
    deployment: z.looseObject({ id, tenantId: z.string(), workspaceId: id, projectId: id, environmentSlug: z.string() }).transform((d) => d as unknown as DeploymentContext),
    hostnames: z.array(z.object({ hostname, sticky: z.enum(["live", "environment"]) })).max(1000),
  }),
  assignDomains: z.object({ deploymentId: id, domains: z.array(z.object({ hostname, sticky })).min(1).max(1000) }),
  switchDomains: z.object({ deploymentId: id, hostnames: hostnames.min(1) }),
  assignFrontlineRoutes: z.object({ deploymentId: id, routeIds: z.array(id).min(1).max(1000) }),
  revertDomains: z.object({ deploymentId: id, previous: z.array(z.object({ hostname, deploymentId: id.nullable() })).max(1000) }),
  refreshGatewayConfigs: z.object({ hostnames }),
  addRoute: z.object({ hostname, deploymentId: id.nullable(), ...routeFields }),
  updateRoute: z.object({
    routeId: id,
    deploymentId: id.nullable().optional(),
    path: routeFields.path.optional(),
    port: routeFields.port.optional(),
    protocol: routeFields.protocol.optional(),
    weight: routeFields.weight.optional(),
    stripPrefix: routeFields.stripPrefix.optional(),
    expectedVersion: z.number().int().nonnegative(),
  }),
  removeRoute: z.object({ routeId: id }),
  removeDomain: z.object({ domainId: id, tenantId: z.string().min(1).max(64) }),
  withdrawHostnames: z.object({ hostnames, reason: z.string().max(200) }),
  standby: z.object({ deploymentId: id, token }),
};

export type ProjectObject = ReturnType<typeof createProjectObject>;
