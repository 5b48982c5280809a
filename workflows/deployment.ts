/*
 * Deployment — a Restate workflow keyed by deployment id.
 *
 *   building ──► deploying ──────────────► network ─────────────► finalizing ──► ready
 *   build image   write topology (versions)  generate hostnames     mark ready
 *                 wait: awakeable resolved   Project.assignDomains  production & not rolled back:
 *                 by ReportDeploymentStatus                         Project.activate (live swap,
 *                 scrape openapi spec                               after the API gate)
 *
 * Compensations are registered before the step they undo ("revert domains" right after
 * Project.assignDomains returns, since it needs the previous routes; that call is one transaction,
 * so its own failure leaves nothing to revert) and run in reverse order when a step
 * fails terminally or the deployment is cancelled: routes go back where they were, instances are
 * told to stop, and the deployment ends failed/cancelled with its event — then the invocation
 * itself ends with a TerminalError carrying the reason, so the Restate UI shows it failed.
 * Infrastructure errors are retried by Restate; the routing critical sections run in the Project
 * object.
 *
 * The wait for instances is bounded by a delayed call to instancesTimedOut (which rejects the
 * awakeable), not by a sleep: a sleep cannot be cancelled and would stay in the journal of a
 * finished deployment ("Wakes up in …"); the call is cancelled as soon as the instances answered.
 */
import * as restate from "@restatedev/restate-sdk";
import { BuildError, type BuildRequest, type StageResult } from "../src/build/buildService.js";
import { cancelRunningBuildSteps, endBuildStep, startBuildStep } from "../src/db/buildSteps.js";
import {
  endPhase,
  finishDeployment,
  loadDeploymentContext,
  publishAwakeable,
  recordImage,
  skipPhase,
  startPhase,
  TERMINAL_STATUSES,
  type DeploymentContext,
  type Phase,
} from "../src/db/deployments.js";
import { instancesOutcome } from "../src/db/instances.js";
import { stopTopology, writeTopology } from "../src/db/topology.js";
import { generateHostnames } from "../src/domain/generatedHostnames.js";
import { scrapeDeploymentSpec } from "../src/openapi/scrapeDeployment.js";
import type { WorkflowDeps } from "./deps.js";
import { projectApi } from "./handles.js";
import { serviceOptions } from "./handlerOptions.js";
import { dbStep, step } from "./steps.js";
import { statusOfRule } from "../src/domain/ruleCodes.js";
import { deploymentEnded, deploymentReady, phaseEnded } from "../src/telemetry/deployMetrics.js";

/** What ReportDeploymentStatus resolves the awakeable with. */
export interface InstancesReport {
  status: "running" | "failed";
  message?: string;
}

/** What a deployment that became ready returns; a failed or cancelled one ends in a TerminalError. */
export interface DeploymentOutcome {
  status: "ready";
  hostnames: string[];
  live: boolean;
}

export function createDeploymentWorkflow(deps: WorkflowDeps) {
  const { db, config, builder } = deps;

  return restate.workflow({
    name: "Deployment",
    options: serviceOptions(config, "pause"),
    handlers: {
      run: async (ctx: restate.WorkflowContext): Promise<DeploymentOutcome> => {
        const deployment = await step(ctx, "load deployment", () => loadDeploymentContext(db, ctx.key));
        if (!deployment) throw new restate.TerminalError(`deployment ${ctx.key} not found`, { errorCode: statusOfRule("not_found") });
        if (TERMINAL_STATUSES.includes(deployment.status)) {
          // Run again for a finished deployment (a resubmission after Restate forgot the first run).
          if (deployment.status !== "ready") throw new restate.TerminalError(`deployment ${deployment.id} already ended ${deployment.status}`);
          return { status: "ready", hostnames: [], live: false };
        }
        const compensations: { name: string; undo: () => Promise<unknown> }[] = [];
        let hostnames: string[] = [];
        let live = false;
        let current: { phase: Phase; startedAtMs: unknown } | undefined;

        const phase = async <T>(name: Phase, body: () => Promise<T>): Promise<T> => {
          const startedAtMs = await step(ctx, `phase ${name}: start`, async () => {
            const at = new Date();
            await startPhase(db, deployment.id, name, at);
            return at.getTime();
          });
          current = { phase: name, startedAtMs };
          const result = await body();
          await step(ctx, `phase ${name}: end`, async () => {
            await endPhase(db, deployment.id, name, new Date());
            phaseEnded(name, "succeeded", startedAtMs);
            if (name === "finalizing") await deploymentReady(db, deployment.id, deployment.isProduction);
          });
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
              await publishAwakeable(db, deployment.id, instances.id);
              return instancesOutcome(db, deployment.id);
            });
            ctx.console.info(`deployment ${deployment.id}: waiting for ${config.regions.join(", ")} to run ${image}`);
            const report: InstancesReport =
              reported.status === "running"
                ? { status: "running" }
                : reported.status === "failed"
                  ? { status: "failed", message: reported.message }
                  : await awaitInstances(ctx, instances);
            if (report.status !== "running") throw new restate.TerminalError(`instances failed: ${report.message ?? "no detail"}`);
            // The spec the instances serve, before they get hostnames; its outcome never fails the deploy.
            const spec = await step(ctx, "scrape openapi spec", () => scrapeDeploymentSpec(db, config, deployment.id));
            ctx.console.info(`deployment ${deployment.id}: openapi spec ${spec.outcome}${spec.hash ? ` ${spec.hash.slice(0, 12)} (${spec.problems} problem(s))` : ""}${spec.detail ? `: ${spec.detail}` : ""}`);
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

      /** The ready timeout's delayed call: fails the wait for instances unless they answered first. */
      instancesTimedOut: restate.handlers.workflow.shared(
        { ingressPrivate: true },
        async (ctx: restate.WorkflowSharedContext, req: { awakeableId: string; reason: string }): Promise<void> => {
          ctx.rejectAwakeable(req.awakeableId, req.reason);
        },
      ),
    },
  });

  /** The instances' report, or a TerminalError once SWITCHYARD_INSTANCE_READY_TIMEOUT passed. */
  async function awaitInstances(ctx: restate.WorkflowContext, instances: { id: string; promise: restate.RestatePromise<InstancesReport> }): Promise<InstancesReport> {
    const reason = `instances did not report running within ${Math.round(config.instanceReadyTimeoutMs / 1000)} s`;
    const timeout = ctx.genericSend({
      service: "Deployment",
      method: "instancesTimedOut",
      key: ctx.key,
      parameter: { awakeableId: instances.id, reason },
      inputSerde: restate.serde.json,
      delay: config.instanceReadyTimeoutMs,
    });
    try {
      return await instances.promise;
    } finally {
      // Whatever answered first, the timer has nothing left to do (a no-op if it already ran).
      ctx.invocation(await timeout.invocationId).cancel();
    }
  }

  /**
   * A pre-built image skips the building phase (pinned to its digest when it lives in the
   * configured registry: a missing image fails here, before anything runs); a git source goes
   * through the BuildService's stages, each one step with its log tail in build_steps. Builds run
   * in this workflow, never under the project's lock.
   */
  async function resolveImage(
    ctx: restate.WorkflowContext,
    deployment: DeploymentContext,
    phase: <T>(name: Phase, body: () => Promise<T>) => Promise<T>,
  ): Promise<string> {
    if (deployment.image) {
      const prebuilt = deployment.image;
      const resolved = await step(ctx, "resolve image", async () => {
        try {
          return await builder.resolve(prebuilt);
        } catch (error) {
          if (error instanceof BuildError) throw new restate.TerminalError(error.message);
          throw error;
        }
      });
      if (resolved.image !== prebuilt) {
        await step(ctx, "record image digest", () => recordImage(db, deployment.id, resolved.image));
      }
      await step(ctx, "phase building: skipped (pre-built image)", () => skipPhase(db, deployment.id, "building", new Date()));
      return resolved.image;
    }
    return phase("building", async () => {
      const request: BuildRequest = {
        deploymentId: deployment.id,
        workspaceSlug: deployment.workspaceSlug,
        projectSlug: deployment.projectSlug,
        image: deployment.image,
        git: deployment.gitSha ? { sha: deployment.gitSha, branch: deployment.gitBranch, repository: deployment.gitRepository, directory: deployment.gitDirectory } : null,
      };
      const stages = await step(ctx, "build: plan", async () => builder.stages(request));
      let image: string | undefined;
      for (const [position, stage] of stages.entries()) {
        const result = await step(ctx, `build: ${stage}`, () => runBuildStage(stage, position, request, ctx.request().attemptCompletedSignal));
        image = result.image ?? image;
      }
      if (!image) throw new restate.TerminalError("build failed: the build produced no image");
      const built = image;
      await step(ctx, "record image", () => recordImage(db, deployment.id, built));
      return built;
    });
  }

  /** One build stage inside its step: its row started, the stage run, the row ended with the log tail. */
  async function runBuildStage(stage: string, position: number, request: BuildRequest, signal: AbortSignal): Promise<StageResult> {
    await startBuildStep(db, request.deploymentId, stage, position);
    try {
      const result = await builder.runStage(stage, request, signal);
      await endBuildStep(db, request.deploymentId, stage, { logTail: result.log });
      return result;
    } catch (error) {
      if (signal.aborted) {
        await endBuildStep(db, request.deploymentId, stage, { logTail: "", status: "cancelled", error: "stopped: the deployment was cancelled" });
        throw error;
      }
      if (!(error instanceof BuildError)) throw error;
      await endBuildStep(db, request.deploymentId, stage, { logTail: error.logTail, error: error.message });
      throw new restate.TerminalError(`build failed: ${error.message}`);
    }
  }

  async function fail(
    ctx: restate.WorkflowContext,
    deployment: DeploymentContext,
    error: restate.TerminalError,
    current: { phase: Phase; startedAtMs: unknown } | undefined,
    compensations: { name: string; undo: () => Promise<unknown> }[],
  ): Promise<never> {
    const cancelled = error instanceof restate.CancelledError;
    const message = cancelled ? "cancelled" : error.message;
    for (const { undo } of compensations.reverse()) await undo();
    if (current) {
      const { phase, startedAtMs } = current;
      if (cancelled && phase === "building") await step(ctx, "build: cancelled", () => cancelRunningBuildSteps(db, deployment.id));
      await step(ctx, `phase ${phase}: end`, async () => {
        await endPhase(db, deployment.id, phase, new Date(), message);
        phaseEnded(phase, "failed", startedAtMs);
      });
    }
    const status = cancelled ? "cancelled" : "failed";
    await dbStep(ctx, `mark ${status}`, db, async (trx) => {
      await finishDeployment(trx, deployment, status, cancelled ? undefined : message);
      deploymentEnded(status);
    });
    // Everything is undone and recorded: now the invocation fails too, with the same reason.
    throw error;
  }
}

export type DeploymentWorkflow = ReturnType<typeof createDeploymentWorkflow>;
