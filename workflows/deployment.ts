/*
 * Deployment — a Restate workflow keyed by deployment id.
 *
 *   building ──► deploying ──────────────► network ─────────────► finalizing ──► ready
 *   build image   write topology (versions)  generate hostnames     mark ready
 *                 wait: awakeable resolved   Project.assignDomains  production & not rolled back:
 *                 by ReportDeploymentStatus                         Project.activate (live swap)
 *
 * Compensations are registered before the step they undo and run in reverse order when a step
 * fails terminally or the deployment is cancelled: routes go back where they were, instances are
 * told to stop, and the deployment ends failed/cancelled with its event. Infrastructure errors
 * are retried by Restate; the routing critical sections run in the Project object.
 */
import * as restate from "@restatedev/restate-sdk";
import { BuildError } from "../src/build/buildService.js";
import {
  endPhase,
  finishDeployment,
  loadDeploymentContext,
  skipPhase,
  startPhase,
  stopTopology,
  TERMINAL_STATUSES,
  writeTopology,
  type DeploymentContext,
  type Phase,
} from "../src/db/deployments.js";
import { instancesOutcome } from "../src/db/instances.js";
import { generateHostnames } from "../src/domain/generatedHostnames.js";
import type { WorkflowDeps } from "./deps.js";
import { projectApi } from "./project.js";
import { dbStep, step } from "./steps.js";

/** What ReportDeploymentStatus resolves the awakeable with. */
export interface InstancesReport {
  status: "running" | "failed";
  message?: string;
}

export interface DeploymentOutcome {
  status: "ready" | "failed" | "cancelled";
  error?: string;
  hostnames: string[];
  live: boolean;
}

export function createDeploymentWorkflow(deps: WorkflowDeps) {
  const { db, config, builder } = deps;

  return restate.workflow({
    name: "Deployment",
    handlers: {
      run: async (ctx: restate.WorkflowContext): Promise<DeploymentOutcome> => {
        const deployment = await step(ctx, "load deployment", () => loadDeploymentContext(db, ctx.key));
        if (!deployment) throw new restate.TerminalError(`deployment ${ctx.key} not found`, { errorCode: 404 });
        if (TERMINAL_STATUSES.includes(deployment.status)) {
          return { status: deployment.status as DeploymentOutcome["status"], hostnames: [], live: false };
        }
        const compensations: { name: string; undo: () => Promise<unknown> }[] = [];
        let hostnames: string[] = [];
        let live = false;
        let current: Phase | undefined;

        const phase = async <T>(name: Phase, body: () => Promise<T>): Promise<T> => {
          current = name;
          await step(ctx, `phase ${name}: start`, () => startPhase(db, deployment.id, name, new Date()));
          const result = await body();
          await step(ctx, `phase ${name}: end`, () => endPhase(db, deployment.id, name, new Date()));
          return result;
        };

        try {
          const image = await resolveImage(ctx, deployment, phase);

          await phase("deploying", async () => {
            compensations.push({ name: "stop instances", undo: () => dbStep(ctx, "stop instances", db, (trx) => stopTopology(trx, deployment.id)) });
            await dbStep(ctx, "write topology", db, (trx) => writeTopology(trx, deployment.id, config.regions));
            const instances = ctx.awakeable<InstancesReport>();
            // Publish the awakeable, then look at the instances: a report that landed before the
            // awakeable was published is seen here, one that lands after sees the awakeable.
            const reported = await step(ctx, "await instances: publish awakeable", async () => {
              await db.updateTable("deployments").set({ awakeable_id: instances.id }).where("id", "=", deployment.id).execute();
              return instancesOutcome(db, deployment.id);
            });
            ctx.console.info(`deployment ${deployment.id}: waiting for ${config.regions.join(", ")} to run ${image}`);
            let report: InstancesReport;
            try {
              report =
                reported.status === "running"
                  ? { status: "running" }
                  : reported.status === "failed"
                    ? { status: "failed", message: reported.message }
                    : await instances.promise.orTimeout(config.instanceReadyTimeoutMs);
            } catch (error) {
              if (error instanceof restate.TimeoutError) {
                throw new restate.TerminalError(`instances did not report running within ${Math.round(config.instanceReadyTimeoutMs / 1000)} s`);
              }
              throw error;
            }
            if (report.status !== "running") throw new restate.TerminalError(`instances failed: ${report.message ?? "no detail"}`);
          });

          await phase("network", async () => {
            const generated = generateHostnames({
              apex: config.platformApex,
              workspaceSlug: deployment.workspaceSlug,
              projectSlug: deployment.projectSlug,
              environmentSlug: deployment.environmentSlug,
              isProduction: deployment.isProduction,
              deploymentId: deployment.id,
              gitSha: deployment.gitSha ?? undefined,
              gitBranch: deployment.gitBranch ?? undefined,
            });
            hostnames = generated.map((g) => g.hostname);
            const assigned = await ctx.objectClient(projectApi, deployment.projectId).assignDomains({ deploymentId: deployment.id, domains: generated });
            compensations.push({
              name: "revert domains",
              undo: () => ctx.objectClient(projectApi, deployment.projectId).revertDomains({ deploymentId: deployment.id, previous: assigned.previous }),
            });
          });

          await phase("finalizing", async () => {
            if (!deployment.isProduction) {
              await dbStep(ctx, "mark ready", db, (trx) => finishDeployment(trx, deployment, "ready"));
            } else {
              const liveHostnames = generateHostnames({
                apex: config.platformApex,
                workspaceSlug: deployment.workspaceSlug,
                projectSlug: deployment.projectSlug,
                environmentSlug: deployment.environmentSlug,
                isProduction: true,
                deploymentId: deployment.id,
              }).flatMap((g) => (g.sticky === "live" || g.sticky === "environment" ? [{ hostname: g.hostname, sticky: g.sticky }] : []));
              const swap = await ctx.objectClient(projectApi, deployment.projectId).activate({ deployment, hostnames: liveHostnames });
              live = swap.liveDeploymentId === deployment.id;
            }
          });
          return { status: "ready", hostnames, live };
        } catch (error) {
          if (!(error instanceof restate.TerminalError)) throw error;
          return fail(ctx, deployment, error, current, compensations);
        }
      },
    },
  });

  /** A pre-built image skips the building phase; a git source goes through the BuildService. */
  async function resolveImage(
    ctx: restate.WorkflowContext,
    deployment: DeploymentContext,
    phase: <T>(name: Phase, body: () => Promise<T>) => Promise<T>,
  ): Promise<string> {
    if (deployment.image) {
      await step(ctx, "phase building: skipped (pre-built image)", () => skipPhase(db, deployment.id, "building", new Date()));
      return deployment.image;
    }
    return phase("building", async () => {
      const built = await step(ctx, "build image", async () => {
        try {
          return await builder.build({
            deploymentId: deployment.id,
            workspaceSlug: deployment.workspaceSlug,
            projectSlug: deployment.projectSlug,
            image: deployment.image,
            git: deployment.gitSha ? { sha: deployment.gitSha, branch: deployment.gitBranch, repository: deployment.gitRepository } : null,
          });
        } catch (error) {
          if (error instanceof BuildError) throw new restate.TerminalError(`build failed: ${error.message}`);
          throw error;
        }
      });
      await step(ctx, "record image", async () => {
        await db.updateTable("deployments").set({ image: built.image }).where("id", "=", deployment.id).execute();
      });
      return built.image;
    });
  }

  async function fail(
    ctx: restate.WorkflowContext,
    deployment: DeploymentContext,
    error: restate.TerminalError,
    phase: Phase | undefined,
    compensations: { name: string; undo: () => Promise<unknown> }[],
  ): Promise<DeploymentOutcome> {
    const cancelled = error instanceof restate.CancelledError;
    const message = cancelled ? "cancelled" : error.message;
    for (const { undo } of compensations.reverse()) await undo();
    if (phase) await step(ctx, `phase ${phase}: end`, () => endPhase(db, deployment.id, phase, new Date(), message));
    const status = cancelled ? "cancelled" : "failed";
    await dbStep(ctx, `mark ${status}`, db, (trx) => finishDeployment(trx, deployment, status, cancelled ? undefined : message));
    return { status, error: message, hostnames: [], live: false };
  }
}

export type DeploymentWorkflow = ReturnType<typeof createDeploymentWorkflow>;
export const deploymentApi: DeploymentWorkflow = { name: "Deployment" } as DeploymentWorkflow;
