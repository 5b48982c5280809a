/*
 * Project — a Restate virtual object keyed by project id: the one lock over a project's routing
 * state (routes, gateway configs, the live pointer, the rolled-back flag). Every handler is
 * exclusive, so deploys, promotes, rollbacks and domain moves of one project never interleave,
 * while different projects run in parallel. Each handler is one short critical section:
 *
 *   promote / rollback / activate ──► [swap live] one transaction: configs → routes → pointer/flag
 *                                        │
 *                                        ├─► disarm the target's pending standby (it is live again)
 *                                        └─► schedule standby of the previous live after the grace
 *   assignDomains / switchDomains / assignFrontlineRoutes ──► one transaction each
 *   standby (delayed call) ──► previous live → standby, unless it became live again
 *
 * Long work (builds, waiting for instances, ACME) never runs here.
 */
import * as restate from "@restatedev/restate-sdk";
import { assignDomains, type AssignDomainsResult, type DomainAssignment } from "../src/routing/assignDomains.js";
import { swapLive, type LiveSwapResult } from "../src/routing/liveSwap.js";
import { standbyDeployment } from "../src/routing/standby.js";
import { revertAssignment, switchDomains, type SwitchDomainsResult } from "../src/routing/switchDomains.js";
import { finishDeployment, type DeploymentContext } from "../src/db/deployments.js";
import { addNetworkRoute, refreshGatewayConfigs, removeNetworkRoute, updateNetworkRoute, type AddRouteInput, type RouteUpdate } from "../src/routing/networkRoutes.js";
import type { NetworkRoute } from "../src/db/schema.js";
import type { WorkflowDeps } from "./deps.js";
import { dbStep } from "./steps.js";

/** Pending standby calls by deployment id, with their due time (visible in the Restate UI). */
type StandbySchedule = Record<string, { token: string; dueAt: string }>;

export interface PromoteRequest {
  deploymentId: string;
}
export interface RollbackRequest {
  deploymentId: string;
  sourceDeploymentId?: string;
}
export interface ActivateRequest {
  deployment: DeploymentContext;
  hostnames: { hostname: string; sticky: "live" | "environment" }[];
}

export function createProjectObject(deps: WorkflowDeps) {
  const { db, config } = deps;
  const apex = config.platformApex;

  /** After a swap: the new live deployment keeps running; the old one waits out its grace. */
  async function reschedule(ctx: restate.ObjectContext, result: LiveSwapResult) {
    const schedule = (await ctx.get<StandbySchedule>("standby")) ?? {};
    const live = result.liveDeploymentId;
    // Live again: its pending standby call is disarmed (the call finds no matching token).
    if (live) delete schedule[live];
    const previous = result.previousLiveDeploymentId;
    if (previous && previous !== live) {
      const token = ctx.rand.uuidv4();
      schedule[previous] = { token, dueAt: new Date(result.committedAt + config.standbyGraceMs).toISOString() };
      ctx
        .objectSendClient(projectApi, ctx.key)
        .standby({ deploymentId: previous, token }, restate.rpc.sendOpts({ delay: { milliseconds: config.standbyGraceMs } }));
    }
    ctx.set("standby", schedule);
  }

  const swap = async (ctx: restate.ObjectContext, step: string, input: Parameters<typeof swapLive>[1]) => {
    const result = await dbStep(ctx, step, db, (trx) => swapLive(trx, input));
    if (result.outcome === "promoted" || result.outcome === "rolled_back") await reschedule(ctx, result);
    return result;
  };

  return restate.object({
    name: "Project",
    handlers: {
      promote: async (ctx: restate.ObjectContext, req: PromoteRequest): Promise<LiveSwapResult> =>
        swap(ctx, "swap live (promote)", { projectId: ctx.key, targetDeploymentId: req.deploymentId, mode: "promote", platformApex: apex }),

      rollback: async (ctx: restate.ObjectContext, req: RollbackRequest): Promise<LiveSwapResult> =>
        swap(ctx, "swap live (rollback)", {
          projectId: ctx.key,
          targetDeploymentId: req.deploymentId,
          mode: "rollback",
          expectedSourceId: req.sourceDeploymentId,
          platformApex: apex,
        }),

      /**
       * Called by the Deployment workflow when a production deploy finishes: it becomes READY and,
       * unless the project is rolled back, live — in one transaction, so nobody sees it ready but
       * not yet live.
       */
      activate: async (ctx: restate.ObjectContext, req: ActivateRequest): Promise<LiveSwapResult> => {
        const result = await dbStep(ctx, "mark ready and swap live (activate)", db, async (trx) => {
          await finishDeployment(trx, req.deployment, "ready");
          return swapLive(trx, {
            projectId: ctx.key,
            targetDeploymentId: req.deployment.id,
            mode: "activate",
            ensureHostnames: req.hostnames,
            platformApex: apex,
          });
        });
        if (result.outcome === "promoted") await reschedule(ctx, result);
        return result;
      },

      assignDomains: async (ctx: restate.ObjectContext, req: { deploymentId: string; domains: DomainAssignment[] }): Promise<AssignDomainsResult> =>
        dbStep(ctx, "assign domains", db, (trx) => assignDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),

      switchDomains: async (ctx: restate.ObjectContext, req: { deploymentId: string; hostnames: string[] }): Promise<SwitchDomainsResult> =>
        dbStep(ctx, "switch domains", db, (trx) => switchDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),

      assignFrontlineRoutes: async (ctx: restate.ObjectContext, req: { deploymentId: string; routeIds: string[] }): Promise<SwitchDomainsResult> =>
        dbStep(ctx, "assign frontline routes", db, (trx) => switchDomains(trx, { projectId: ctx.key, ...req, platformApex: apex })),

      /** Compensation of assignDomains for a deploy that failed afterwards. */
      revertDomains: async (
        ctx: restate.ObjectContext,
        req: { deploymentId: string; previous: AssignDomainsResult["previous"] },
      ): Promise<{ reverted: string[] }> =>
        dbStep(ctx, "revert domains", db, (trx) => revertAssignment(trx, { projectId: ctx.key, ...req, platformApex: apex })),

      /** Rewrites the gateway configs of hostnames (a certificate was issued for them). */
      refreshGatewayConfigs: async (ctx: restate.ObjectContext, req: { hostnames: string[] }): Promise<{ refreshed: string[] }> =>
        dbStep(ctx, "refresh gateway configs", db, async (trx) => ({ refreshed: await refreshGatewayConfigs(trx, { projectId: ctx.key, hostnames: req.hostnames, platformApex: apex }) })),

      addRoute: async (ctx: restate.ObjectContext, req: Omit<AddRouteInput, "projectId" | "platformApex">): Promise<NetworkRoute> =>
        dbStep(ctx, "add route", db, (trx) => addNetworkRoute(trx, { ...req, projectId: ctx.key, platformApex: apex })),

      updateRoute: async (ctx: restate.ObjectContext, req: Omit<RouteUpdate, "platformApex">): Promise<NetworkRoute> =>
        dbStep(ctx, "update route", db, (trx) => updateNetworkRoute(trx, { ...req, platformApex: apex })),

      removeRoute: async (ctx: restate.ObjectContext, req: { routeId: string }): Promise<{ version: number }> =>
        dbStep(ctx, "remove route", db, async (trx) => ({ version: await removeNetworkRoute(trx, { routeId: req.routeId, platformApex: apex }) })),

      /**
       * Delayed call scheduled by a swap. It acts only while its token is still the scheduled one:
       * a deployment that became live again (or was rescheduled) disarmed it.
       */
      standby: async (ctx: restate.ObjectContext, req: { deploymentId: string; token: string }) => {
        const schedule = (await ctx.get<StandbySchedule>("standby")) ?? {};
        if (schedule[req.deploymentId]?.token !== req.token) return { outcome: "cancelled" as const };
        const result = await dbStep(ctx, "standby previous live", db, (trx) => standbyDeployment(trx, { projectId: ctx.key, deploymentId: req.deploymentId }));
        delete schedule[req.deploymentId];
        ctx.set("standby", schedule);
        return result;
      },
    },
  });
}

export type ProjectObject = ReturnType<typeof createProjectObject>;
/** Typed reference for clients (ingress, other handlers) that need no dependencies. */
export const projectApi: ProjectObject = { name: "Project" } as ProjectObject;
