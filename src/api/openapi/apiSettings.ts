import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Project } from "../../db/schema.js";
import type { BreakingChangesPolicy as Policy } from "../../domain/gates.js";
import { specPathProblem } from "../../domain/specPath.js";
import {
  ApiSettingsSchema,
  BreakingChangesPolicy,
  GetApiSettingsResponseSchema,
  UpdateApiSettingsResponseSchema,
  type GetApiSettingsRequest,
  type UpdateApiSettingsRequest,
} from "../../gen/ctrl/v1/openapi_pb.js";
import { principalOf } from "../auth.js";
import { invalidArgument } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { findProject, requireId } from "../tenancy.js";
import { POLICY_FROM_PROTO, POLICY_TO_PROTO } from "./toProto.js";

function settingsOf(project: Pick<Project, "openapi_spec_path" | "breaking_changes">) {
  return create(ApiSettingsSchema, { specPath: project.openapi_spec_path, breakingChanges: POLICY_TO_PROTO[project.breaking_changes as Policy] ?? BreakingChangesPolicy.WARN });
}

export function getApiSettings({ db }: ApiDeps) {
  return async (req: GetApiSettingsRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    return create(GetApiSettingsResponseSchema, { projectId: project.id, settings: settingsOf(project) });
  };
}

export function updateApiSettings({ db }: ApiDeps) {
  return async (req: UpdateApiSettingsRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    // Every field is checked before anything is written.
    const problem = req.specPath === "" ? undefined : specPathProblem(req.specPath);
    if (problem) throw invalidArgument("spec_path", problem);
    let policy: Policy | undefined;
    if (req.breakingChanges !== BreakingChangesPolicy.UNSPECIFIED) {
      policy = POLICY_FROM_PROTO[req.breakingChanges];
      if (!policy) throw invalidArgument("breaking_changes", `unknown policy ${req.breakingChanges}; use ALLOW, WARN or BLOCK`);
    }
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    const changes = { ...(req.specPath ? { openapi_spec_path: req.specPath } : {}), ...(policy ? { breaking_changes: policy } : {}) };
    if (Object.keys(changes).length > 0) await db.updateTable("projects").set(changes).where("id", "=", project.id).execute();
    const updated = await db.selectFrom("projects").select(["openapi_spec_path", "breaking_changes"]).where("id", "=", project.id).executeTakeFirstOrThrow();
    return create(UpdateApiSettingsResponseSchema, { projectId: project.id, settings: settingsOf(updated) });
  };
}
