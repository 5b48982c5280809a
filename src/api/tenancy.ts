import type { Kysely, Transaction } from "kysely";
import type { CustomDomain, Database, Deployment, Project, WebhookEndpoint, Workspace } from "../db/schema.js";
import { invalidArgument, notFound } from "./errors.js";

// Every lookup the API makes on behalf of a caller goes through these: a resource of another
// tenant is answered exactly like a missing one (NotFound), so its existence never leaks.

/** A required id field: InvalidArgument naming it when empty or absurd. */
export function requireId(field: string, value: string): string {
  if (value.trim() === "") throw invalidArgument(field, "is required");
  if (value.length > 64 || !/^[A-Za-z0-9_-]+$/.test(value)) throw invalidArgument(field, "is not a valid id");
  return value;
}

export async function findWorkspace(db: Kysely<Database>, tenantId: string, workspaceId: string): Promise<Workspace> {
  const workspace = await db
    .selectFrom("workspaces")
    .selectAll()
    .where("id", "=", workspaceId)
    .where("tenant_id", "=", tenantId)
    .executeTakeFirst();
  if (!workspace) throw notFound("workspace", workspaceId);
  return workspace;
}

export async function findProject(db: Kysely<Database>, tenantId: string, projectId: string): Promise<Project> {
  const project = await db
    .selectFrom("projects")
    .innerJoin("workspaces", "workspaces.id", "projects.workspace_id")
    .selectAll("projects")
    .where("projects.id", "=", projectId)
    .where("workspaces.tenant_id", "=", tenantId)
    .executeTakeFirst();
  if (!project) throw notFound("project", projectId);
  return project;
}

export async function findDeployment(db: Kysely<Database>, tenantId: string, deploymentId: string): Promise<Deployment> {
  const deployment = await db
    .selectFrom("deployments")
    .innerJoin("workspaces", "workspaces.id", "deployments.workspace_id")
    .selectAll("deployments")
    .where("deployments.id", "=", deploymentId)
    .where("workspaces.tenant_id", "=", tenantId)
    .executeTakeFirst();
  if (!deployment) throw notFound("deployment", deploymentId);
  return deployment;
}

/** The tenant's custom domain (removed ones included, unless `live`); FOR UPDATE inside a transaction when asked. */
export async function findDomain(
  db: Kysely<Database> | Transaction<Database>,
  tenantId: string,
  domainId: string,
  { forUpdate = false, live = false }: { forUpdate?: boolean; live?: boolean } = {},
): Promise<CustomDomain> {
  let query = db.selectFrom("custom_domains").selectAll().where("id", "=", domainId).where("tenant_id", "=", tenantId);
  if (live) query = query.where("status", "<>", "removed");
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound("domain", domainId);
  return row;
}

export async function findWebhookEndpoint(db: Kysely<Database>, tenantId: string, endpointId: string): Promise<WebhookEndpoint> {
  const row = await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", endpointId).where("tenant_id", "=", tenantId).executeTakeFirst();
  if (!row) throw notFound("webhook endpoint", endpointId);
  return row;
}
