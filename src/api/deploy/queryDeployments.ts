import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  DeploymentStatus,
  type GetDeploymentRequest,
  GetDeploymentResponseSchema,
  type ListDeploymentsRequest,
  ListDeploymentsResponseSchema,
} from "../../gen/ctrl/v1/deploy_pb.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { keysetPage } from "../pagination.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, findProject, requireId } from "../tenancy.js";
import { environmentRef, pageSize, textField } from "../validation.js";
import { deploymentsToProto, STATUS_FROM_PROTO } from "./toProto.js";

export function getDeployment({ db }: ApiDeps) {
  return async (req: GetDeploymentRequest, context: HandlerContext) => {
    requireId("deployment_id", req.deploymentId);
    const row = await findDeployment(db, principalOf(context).tenantId, req.deploymentId);
    const [deployment] = await deploymentsToProto(db, [row]);
    return create(GetDeploymentResponseSchema, { deployment });
  };
}

/** Newest first (id order: ids are time-ordered ULIDs), filtered, paginated by id. */
export function listDeployments({ db, config }: ApiDeps) {
  return async (req: ListDeploymentsRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    pageSize(req.pageSize);
    textField("branch", req.branch, 255);
    if (req.status !== DeploymentStatus.UNSPECIFIED && STATUS_FROM_PROTO[req.status] === undefined) throw invalidArgument("status", "is not a deployment status");
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    let environmentId: string | undefined;
    if (req.environment !== "") {
      environmentRef("environment", req.environment);
      const environment = await db
        .selectFrom("environments")
        .select("id")
        .where("project_id", "=", project.id)
        .where((eb) => eb.or([eb("slug", "=", req.environment), eb("id", "=", req.environment)]))
        .executeTakeFirst();
      if (!environment) throw notFound("environment", `${req.environment.slice(0, 64)} in project ${project.id}`);
      environmentId = environment.id;
    }
    const filters = { rpc: "ListDeployments", project: project.id, environmentId, branch: req.branch, status: req.status };
    let query = db.selectFrom("deployments").selectAll().where("project_id", "=", project.id);
    if (environmentId) query = query.where("environment_id", "=", environmentId);
    if (req.branch !== "") query = query.where("git_branch", "=", req.branch);
    if (req.status !== DeploymentStatus.UNSPECIFIED) query = query.where("status", "=", STATUS_FROM_PROTO[req.status]);
    // Newest first: ids are time-ordered ULIDs.
    const page = await keysetPage(query, { config, pageToken: req.pageToken, pageSize: req.pageSize, filters }, [{ column: "id", order: "desc", type: "string", value: (row) => row.id }]);
    return create(ListDeploymentsResponseSchema, { deployments: await deploymentsToProto(db, page.rows), nextPageToken: page.nextPageToken });
  };
}
