import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { isDuplicateKey } from "../../db/errors.js";
import { newId } from "../../db/ids.js";
import {
  type CreateEnvironmentRequest,
  CreateEnvironmentResponseSchema,
  type CreateProjectRequest,
  CreateProjectResponseSchema,
  type GetProjectRequest,
  GetProjectResponseSchema,
  type ListEnvironmentsRequest,
  ListEnvironmentsResponseSchema,
  type ListProjectsRequest,
  ListProjectsResponseSchema,
} from "../../gen/ctrl/v1/deploy_pb.js";
import { principalOf } from "../auth.js";
import { decodePageToken, encodePageToken } from "../pagination.js";
import type { ApiDeps } from "../server.js";
import { findProject, findWorkspace, requireId } from "../tenancy.js";
import { pageSize, slugField, textField } from "../validation.js";
import { environmentToProto, projectToProto } from "./toProto.js";

export const MAX_PROJECTS_PER_WORKSPACE = 200;
export const MAX_ENVIRONMENTS_PER_PROJECT = 50;

/** A project is created together with its `production` environment, in one transaction. */
export function createProject({ db }: ApiDeps) {
  return async (req: CreateProjectRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const slug = slugField("slug", req.slug);
    const name = textField("name", req.name, 200) || slug;
    const workspace = await findWorkspace(db, principalOf(context).tenantId, req.workspaceId);
    const existing = await db.selectFrom("projects").selectAll().where("workspace_id", "=", workspace.id).where("slug", "=", slug).executeTakeFirst();
    if (existing) {
      if (req.idempotencyKey === "") throw new ConnectError(`slug: project "${slug}" already exists in workspace ${workspace.id}`, Code.AlreadyExists);
      const environments = await db.selectFrom("environments").selectAll().where("project_id", "=", existing.id).orderBy("created_at").execute();
      return create(CreateProjectResponseSchema, { project: projectToProto(existing), environments: environments.map(environmentToProto) });
    }
    const count = await db.selectFrom("projects").select((eb) => eb.fn.countAll<number>().as("n")).where("workspace_id", "=", workspace.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_PROJECTS_PER_WORKSPACE) throw new ConnectError(`workspace already has ${MAX_PROJECTS_PER_WORKSPACE} projects`, Code.ResourceExhausted);
    const id = newId("prj");
    try {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto("projects").values({ id, workspace_id: workspace.id, slug, name, live_deployment_id: null }).execute();
        await trx.insertInto("environments").values({ id: newId("env"), project_id: id, slug: "production" }).execute();
      });
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConnectError(`slug: project "${slug}" already exists in workspace ${workspace.id}`, Code.AlreadyExists);
      throw error;
    }
    const project = await db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    const environments = await db.selectFrom("environments").selectAll().where("project_id", "=", id).execute();
    return create(CreateProjectResponseSchema, { project: projectToProto(project), environments: environments.map(environmentToProto) });
  };
}

export function getProject({ db }: ApiDeps) {
  return async (req: GetProjectRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    return create(GetProjectResponseSchema, { project: projectToProto(await findProject(db, principalOf(context).tenantId, req.projectId)) });
  };
}

export function listProjects({ db }: ApiDeps) {
  return async (req: ListProjectsRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const size = pageSize(req.pageSize);
    const workspace = await findWorkspace(db, principalOf(context).tenantId, req.workspaceId);
    const filters = { rpc: "ListProjects", workspace: workspace.id };
    const position = decodePageToken(req.pageToken, filters);
    let query = db.selectFrom("projects").selectAll().where("workspace_id", "=", workspace.id);
    if (position) query = query.where("id", ">", position.id);
    const rows = await query.orderBy("id").limit(size + 1).execute();
    const page = rows.slice(0, size);
    return create(ListProjectsResponseSchema, {
      projects: page.map(projectToProto),
      nextPageToken: rows.length > size ? encodePageToken({ after: "", id: page.at(-1)!.id }, filters) : "",
    });
  };
}

export function createEnvironment({ db }: ApiDeps) {
  return async (req: CreateEnvironmentRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    const slug = slugField("slug", req.slug);
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    const existing = await db.selectFrom("environments").selectAll().where("project_id", "=", project.id).where("slug", "=", slug).executeTakeFirst();
    if (existing) {
      if (req.idempotencyKey !== "") return create(CreateEnvironmentResponseSchema, { environment: environmentToProto(existing) });
      throw new ConnectError(`slug: environment "${slug}" already exists in project ${project.id}`, Code.AlreadyExists);
    }
    const count = await db.selectFrom("environments").select((eb) => eb.fn.countAll<number>().as("n")).where("project_id", "=", project.id).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_ENVIRONMENTS_PER_PROJECT) throw new ConnectError(`project already has ${MAX_ENVIRONMENTS_PER_PROJECT} environments`, Code.ResourceExhausted);
    const id = newId("env");
    try {
      await db.insertInto("environments").values({ id, project_id: project.id, slug }).execute();
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConnectError(`slug: environment "${slug}" already exists in project ${project.id}`, Code.AlreadyExists);
      throw error;
    }
    const row = await db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    return create(CreateEnvironmentResponseSchema, { environment: environmentToProto(row) });
  };
}

export function listEnvironments({ db }: ApiDeps) {
  return async (req: ListEnvironmentsRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    const size = pageSize(req.pageSize);
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    const filters = { rpc: "ListEnvironments", project: project.id };
    const position = decodePageToken(req.pageToken, filters);
    let query = db.selectFrom("environments").selectAll().where("project_id", "=", project.id);
    if (position) query = query.where("id", ">", position.id);
    const rows = await query.orderBy("id").limit(size + 1).execute();
    const page = rows.slice(0, size);
    return create(ListEnvironmentsResponseSchema, {
      environments: page.map(environmentToProto),
      nextPageToken: rows.length > size ? encodePageToken({ after: "", id: page.at(-1)!.id }, filters) : "",
    });
  };
}
