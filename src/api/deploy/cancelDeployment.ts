import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type CancelDeploymentRequest, CancelDeploymentResponseSchema } from "../../gen/ctrl/v1/deploy_pb.js";
import { cancelInvocation } from "../../restate/admin.js";
import { principalOf } from "../auth.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, requireId } from "../tenancy.js";
import { deploymentsToProto } from "./toProto.js";

const IN_PROGRESS = ["pending", "building", "deploying", "network", "finalizing"];
/** How long CancelDeployment waits for the workflow's compensations to finish. */
const CANCEL_WAIT_MS = 15_000;

/**
 * Cancels the deployment's workflow through the Restate admin API; the workflow runs its
 * compensations and records CANCELLED. Waits (bounded) for that, so the answer shows the end state.
 */
export function cancelDeployment(deps: ApiDeps) {
  const { db } = deps;
  return async (req: CancelDeploymentRequest, context: HandlerContext) => {
    requireId("deployment_id", req.deploymentId);
    const { tenantId } = principalOf(context);
    let row = await findDeployment(db, tenantId, req.deploymentId);
    if (row.status === "ready" || row.status === "failed") {
      throw new ConnectError(`deployment ${row.id} is ${row.status}; only an unfinished deployment can be cancelled`, Code.FailedPrecondition);
    }
    if (IN_PROGRESS.includes(row.status)) {
      if (!row.invocation_id) throw new ConnectError(`deployment ${row.id} has not started yet; retry in a moment`, Code.Unavailable);
      await cancelInvocation(deps.config.restateAdminUrl, row.invocation_id);
      const deadline = Date.now() + CANCEL_WAIT_MS;
      while (IN_PROGRESS.includes(row.status) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        row = await findDeployment(db, tenantId, req.deploymentId);
      }
    }
    const [deployment] = await deploymentsToProto(db, [row]);
    return create(CancelDeploymentResponseSchema, { deployment });
  };
}
