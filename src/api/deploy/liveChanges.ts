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
import { projectApi } from "../../../workflows/project.js";
import { principalOf } from "../auth.js";
import { fromGateError, invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../server.js";
import { requireId } from "../tenancy.js";

// Promote and Rollback: checked here first against the current state (fast, precise errors,
// no workflow started for a request that cannot succeed), then run by the Project object,
// which checks the same gates again under its lock and performs the atomic swap.

export function promote(deps: ApiDeps) {
  return async (req: PromoteRequest, context: HandlerContext): Promise<PromoteResponse> => {
    const { projectId, gate } = await prepare(deps.db, context, req.deploymentId, req.projectId);
    // A retry with an idempotency key must get the first answer, which Restate keeps: the
    // pre-check would judge the state the first call already changed.
    if (req.idempotencyKey === "") precheck(() => checkPromote(gate.project, gate.target));
    const options = idempotent<{ deploymentId: string }, LiveSwapResult>(scopedKey(context, "promote", req.idempotencyKey));
    const result = await viaIngress(() => deps.ingress.objectClient(projectApi, projectId).promote({ deploymentId: req.deploymentId }, options));
    return create(PromoteResponseSchema, { state: toRoutingState(projectId, result) });
  };
}

export function rollback(deps: ApiDeps) {
  return async (req: RollbackRequest, context: HandlerContext): Promise<RollbackResponse> => {
    const { projectId, gate } = await prepare(deps.db, context, req.deploymentId, req.projectId);
    if (req.expectedLiveDeploymentId !== "") requireId("expected_live_deployment_id", req.expectedLiveDeploymentId);
    if (req.idempotencyKey === "") precheck(() => checkRollback(gate.project, gate.target, req.expectedLiveDeploymentId || undefined));
    const input = { deploymentId: req.deploymentId, sourceDeploymentId: req.expectedLiveDeploymentId || undefined };
    const options = idempotent<typeof input, LiveSwapResult>(scopedKey(context, "rollback", req.idempotencyKey));
    const result = await viaIngress(() => deps.ingress.objectClient(projectApi, projectId).rollback(input, options));
    return create(RollbackResponseSchema, { state: toRoutingState(projectId, result) });
  };
}

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
