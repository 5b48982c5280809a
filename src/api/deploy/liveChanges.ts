import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema.js";
import { checkPromote, checkRollback } from "../../domain/gates.js";
import {
  type PromoteRequest,
  type PromoteResponse,
  PromoteResponseSchema,
  type RollbackRequest,
  type RollbackResponse,
  RollbackResponseSchema,
} from "../../gen/ctrl/v1/deploy_pb.js";
import { LiveChangeOutcome, ProjectRoutingStateSchema, type ProjectRoutingState } from "../../gen/ctrl/v1/resources_pb.js";
import type { LiveSwapResult } from "../../routing/liveSwap.js";
import { idempotent, viaIngress } from "../../restate/ingress.js";
import { scopedKey } from "../idempotency.js";
import type { LiveChangeRequest, PromoteRequest as PromoteInput, RollbackRequest as RollbackInput } from "../../../workflows/project.js";
import { projectApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { fromGateError, invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { requireId } from "../tenancy.js";
import { specChangeToProto } from "../openapi/toProto.js";
import { liveChangeDuration } from "../../telemetry/metrics.js";

// Promote and Rollback: checked here first against the current state (fast, precise errors,
// no workflow started for a request that cannot succeed), then run by the Project object, which
// checks the same gates again under its lock and performs the atomic swap. A target in standby
// takes the longer path through changeLive (see liveChange below).

export function promote(deps: ApiDeps) {
  return timed("promote", async (req: PromoteRequest, context: HandlerContext): Promise<PromoteResponse> => {
    const { projectId, gate } = await prepare(deps.db, context, req.deploymentId, req.projectId);
    // A retry with an idempotency key must get the first answer, which Restate keeps: the
    // pre-check would judge the state the first call already changed.
    if (req.idempotencyKey === "") precheck(() => checkPromote(gate.project, gate.target));
    const input: LiveChangeRequest = { mode: "promote", deploymentId: req.deploymentId, ...(req.allowBreakingChanges ? { allowBreakingChanges: true } : {}) };
    const result = await liveChange(deps, projectId, input, scopedKey(context, "promote", req.idempotencyKey));
    return create(PromoteResponseSchema, { state: toRoutingState(projectId, result), breakingChanges: (result.breakingChanges ?? []).map(specChangeToProto) });
  });
}

export function rollback(deps: ApiDeps) {
  return timed("rollback", async (req: RollbackRequest, context: HandlerContext): Promise<RollbackResponse> => {
    const { projectId, gate } = await prepare(deps.db, context, req.deploymentId, req.projectId);
    if (req.expectedLiveDeploymentId !== "") requireId("expected_live_deployment_id", req.expectedLiveDeploymentId);
    if (req.idempotencyKey === "") precheck(() => checkRollback(gate.project, gate.target, req.expectedLiveDeploymentId || undefined));
    const input: LiveChangeRequest = { mode: "rollback", deploymentId: req.deploymentId, sourceDeploymentId: req.expectedLiveDeploymentId || undefined };
    const result = await liveChange(deps, projectId, input, scopedKey(context, "rollback", req.idempotencyKey));
    return create(RollbackResponseSchema, { state: toRoutingState(projectId, result) });
  });
}

/**
 * One invocation in the common case: the exclusive promote or rollback swaps at once. Only when
 * it answers target_not_running (the target is in standby) does the call go on to changeLive,
 * which wakes the target and waits for its instances without holding the project's lock, then
 * swaps. A retry with the same key gets both answers again from Restate (each call its own key).
 */
async function liveChange(deps: ApiDeps, projectId: string, input: LiveChangeRequest, key: string | undefined): Promise<LiveSwapResult> {
  const project = deps.ingress.objectClient(projectApi, projectId);
  const swapped = await viaIngress(() =>
    input.mode === "promote"
      ? project.promote({ deploymentId: input.deploymentId, allowBreakingChanges: input.allowBreakingChanges }, idempotent<PromoteInput, LiveSwapResult>(key))
      : project.rollback({ deploymentId: input.deploymentId, sourceDeploymentId: input.sourceDeploymentId }, idempotent<RollbackInput, LiveSwapResult>(key)),
  );
  if (swapped.outcome !== "target_not_running") return swapped;
  return viaIngress(() => project.changeLive(input, idempotent<LiveChangeRequest, LiveSwapResult>(key && `${key}/wake`)));
}

/** switchyard_live_change_duration_seconds: the whole RPC, by the swap's outcome (or "refused"). */
function timed<Req, Res extends { state?: ProjectRoutingState }>(operation: "promote" | "rollback", handler: (req: Req, context: HandlerContext) => Promise<Res>) {
  return async (req: Req, context: HandlerContext): Promise<Res> => {
    const started = performance.now();
    let outcome = "refused";
    try {
      const res = await handler(req, context);
      outcome = LIVE_OUTCOME_LABEL[res.state?.outcome ?? LiveChangeOutcome.UNSPECIFIED] ?? "unchanged";
      return res;
    } finally {
      liveChangeDuration.observe({ operation, outcome }, (performance.now() - started) / 1000);
    }
  };
}

const LIVE_OUTCOME_LABEL: Partial<Record<LiveChangeOutcome, string>> = {
  [LiveChangeOutcome.PROMOTED]: "promoted",
  [LiveChangeOutcome.ROLLED_BACK]: "rolled_back",
  [LiveChangeOutcome.ROLLBACK_CONFIRMED]: "rollback_confirmed",
  [LiveChangeOutcome.UNSPECIFIED]: "unchanged",
};

/** Runs a gate before any workflow starts, answering its Connect code. */
function precheck(gate: () => unknown) {
  try {
    gate();
  } catch (error) {
    throw fromGateError(error);
  }
}

/** Loads the target deployment (tenant-scoped) and its project's state as the gates see it, in one query. */
async function prepare(db: Kysely<Database>, context: HandlerContext, deploymentId: string, projectGuard: string) {
  requireId("deployment_id", deploymentId);
  const row = await db
    .selectFrom("deployments as d")
    .innerJoin("workspaces as w", "w.id", "d.workspace_id")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .select((eb) => [
      "d.id",
      "d.project_id",
      "d.environment_id",
      "d.status",
      "p.live_deployment_id",
      "p.is_rolled_back",
      eb.selectFrom("environments as e").select("e.id").whereRef("e.project_id", "=", "p.id").where("e.slug", "=", "production").as("production_id"),
    ])
    .where("d.id", "=", deploymentId)
    .where("w.tenant_id", "=", principalOf(context).tenantId)
    .executeTakeFirst();
  if (!row) throw notFound("deployment", deploymentId);
  if (projectGuard !== "" && projectGuard !== row.project_id) {
    throw invalidArgument("project_id", `deployment ${deploymentId} does not belong to project ${projectGuard}`);
  }
  return {
    projectId: row.project_id,
    gate: {
      project: { id: row.project_id, liveDeploymentId: row.live_deployment_id, isRolledBack: row.is_rolled_back, productionEnvironmentId: row.production_id ?? "" },
      target: { id: row.id, projectId: row.project_id, environmentId: row.environment_id, status: row.status },
    },
  };
}


const OUTCOME: Record<LiveSwapResult["outcome"], LiveChangeOutcome> = {
  promoted: LiveChangeOutcome.PROMOTED,
  rolled_back: LiveChangeOutcome.ROLLED_BACK,
  confirmed_rollback: LiveChangeOutcome.ROLLBACK_CONFIRMED,
  skipped_rolled_back: LiveChangeOutcome.UNSPECIFIED,
  target_not_running: LiveChangeOutcome.UNSPECIFIED,
  blocked_breaking_changes: LiveChangeOutcome.UNSPECIFIED,
  api_gate_needed: LiveChangeOutcome.UNSPECIFIED,
};

export function toRoutingState(projectId: string, result: LiveSwapResult): ProjectRoutingState {
  return create(ProjectRoutingStateSchema, {
    projectId,
    outcome: OUTCOME[result.outcome],
    liveDeploymentId: result.liveDeploymentId ?? "",
    previousLiveDeploymentId: result.previousLiveDeploymentId ?? "",
    isRolledBack: result.isRolledBack,
    movedHostnames: result.movedHostnames,
    changeVersion: BigInt(result.version),
  });
}
