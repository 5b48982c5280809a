import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { GetDiffResponseSchema, type GetDiffRequest, type GetDiffResponse } from "../../gen/ctrl/v1/openapi_pb.js";
import { compareDeploymentSpecs } from "../../openapi/compareSpecs.js";
import { environmentLiveDeployment, loadSpec } from "../../openapi/specStore.js";
import { principalOf } from "../auth.js";
import { fromGateError, invalidArgument } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, requireId } from "../tenancy.js";
import { specChangeToProto } from "./toProto.js";

export function getDiff({ db, differ }: ApiDeps) {
  return async (req: GetDiffRequest, context: HandlerContext): Promise<GetDiffResponse> => {
    requireId("new_deployment_id", req.newDeploymentId);
    if (req.oldDeploymentId !== "") requireId("old_deployment_id", req.oldDeploymentId);
    const tenantId = principalOf(context).tenantId;
    const revision = await findDeployment(db, tenantId, req.newDeploymentId);
    const baseId = req.oldDeploymentId || (await defaultBaseline(revision.id));
    const base = await findDeployment(db, tenantId, baseId);
    if (base.project_id !== revision.project_id) {
      throw invalidArgument("old_deployment_id", `deployment ${base.id} is not in the project of ${revision.id} (${revision.project_id})`);
    }
    try {
      const changes = await compareDeploymentSpecs(db, differ, base.id, revision.id);
      return create(GetDiffResponseSchema, {
        changes: changes.map(specChangeToProto),
        hasBreakingChanges: changes.some((c) => c.level === "breaking"),
        oldDeploymentId: base.id,
        newDeploymentId: revision.id,
      });
    } catch (error) {
      throw fromGateError(error);
    }
  };

  /** The environment's live deployment; for the live one itself, the one it replaced. */
  async function defaultBaseline(deploymentId: string): Promise<string> {
    const live = await environmentLiveDeployment(db, deploymentId);
    if (live && live !== deploymentId) return live;
    const replaced = (await loadSpec(db, deploymentId))?.baselineDeploymentId;
    if (replaced) return replaced;
    throw new ConnectError(`old_deployment_id: deployment ${deploymentId} has no earlier live deployment in its environment to compare with; name one`, Code.FailedPrecondition);
  }
}
