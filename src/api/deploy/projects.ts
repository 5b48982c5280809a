import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { isDuplicateKey } from "../../db/errors.js";
import { newId } from "../../db/ids.js";
import { retryTransient } from "../../db/retry.js";
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
import { fromGateError } from "../errors.js";
import { generatedLabels } from "../../domain/generatedHostnames.js";
import { reserveLabels } from "../../routing/hostnameOwnership.js";
import { keysetPage } from "../pagination.js";
import type { ApiDeps } from "../deps.js";
import { findProject, findWorkspace, requireId } from "../tenancy.js";
import { slugField, textField } from "../validation.js";
import { environmentToProto, projectToProto } from "./toProto.js";

export const MAX_PROJECTS_PER_WORKSPACE = 200;
export const MAX_ENVIRONMENTS_PER_PROJECT = 50;

/** A project is created together with its `production` environment, in one transaction. */
export function createProject({ db, config }: ApiDeps) {
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
      // Concurrent creations lock neighbouring gaps of hostname_reservations (FOR UPDATE on labels
      // not there yet), so MariaDB may pick one as a deadlock victim: it rolled back whole, run it again.
      await retryTransient(() => db.transaction().execute(async (trx) => {
        await trx.insertInto("projects").values({ id, workspace_id: workspace.id, slug, name, live_deployment_id: null }).execute();
        await trx.insertInto("environments").values({ id: newId("env"), project_id: id, slug: "production" }).execute();
        // Its generated hostnames are its own from now on, before its first deploy.
        const labels = generatedLabels({ workspaceSlug: workspace.slug, projectSlug: slug, environmentSlugs: ["production"] });
        await reserveLabels(trx, id, labels, "slug", config.platformApex);
      }));
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConnectError(`slug: project "${slug}" already exists in workspace ${workspace.id}`, Code.AlreadyExists);
      throw fromGateError(error);
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

export function listProjects({ db, config }: ApiDeps) {
  return async (req: ListProjectsRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const workspace = await findWorkspace(db, principalOf(context).tenantId, req.workspaceId);
    const page = await keysetPage(
      db.selectFrom("projects").selectAll().where("workspace_id", "=", workspace.id),
      { config, pageToken: req.pageToken, pageSize: req.pageSize, filters: { rpc: "ListProjects", workspace: workspace.id } },
      [{ column: "id", order: "asc", type: "string", value: (row) => row.id }],
    );
    return create(ListProjectsResponseSchema, { projects: page.rows.map(projectToProto), nextPageToken: page.nextPageToken });
  };
}

export function createEnvironment({ db, config }: ApiDeps) {
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
    const workspace = await db.selectFrom("workspaces").select("slug").where("id", "=", project.workspace_id).executeTakeFirstOrThrow();
    try {
      await retryTransient(() => db.transaction().execute(async (trx) => {
        await trx.insertInto("environments").values({ id, project_id: project.id, slug }).execute();
        // [live label, this environment's label]: the live one is the project's already.
        const labels = generatedLabels({ workspaceSlug: workspace.slug, projectSlug: project.slug, environmentSlugs: [slug] }).slice(1);
        await reserveLabels(trx, project.id, labels, "slug", config.platformApex);
      }));
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConnectError(`slug: environment "${slug}" already exists in project ${project.id}`, Code.AlreadyExists);
      throw fromGateError(error);
    }
    const row = await db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    return create(CreateEnvironmentResponseSchema, { environment: environmentToProto(row) });
  };
}

export function listEnvironments({ db, config }: ApiDeps) {
  return async (req: ListEnvironmentsRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    const page = await keysetPage(
      db.selectFrom("environments").selectAll().where("project_id", "=", project.id),
      { config, pageToken: req.pageToken, pageSize: req.pageSize, filters: { rpc: "ListEnvironments", project: project.id } },
      [{ column: "id", order: "asc", type: "string", value: (row) => row.id }],
    );
    return create(ListEnvironmentsResponseSchema, { environments: page.rows.map(environmentToProto), nextPageToken: page.nextPageToken });
  };
}
