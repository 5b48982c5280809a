import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { GateError, type GateDeployment, type GateProject } from "../domain/gates.js";

/**
 * Locks the project row for the rest of the transaction. The Restate Project object already
 * serialises a project's routing work; the row lock keeps the database consistent even for a
 * writer that bypasses it (an operator's SQL, a second cluster during a migration).
 */
export async function lockProject(trx: Transaction<Database>, projectId: string): Promise<GateProject & { workspaceId: string; tenantId: string }> {
  const project = await trx
    .selectFrom("projects")
    .innerJoin("workspaces", "workspaces.id", "projects.workspace_id")
    .select(["projects.id", "projects.workspace_id", "projects.live_deployment_id", "projects.is_rolled_back", "workspaces.tenant_id"])
    .where("projects.id", "=", projectId)
    .forUpdate()
    .executeTakeFirst();
  if (!project) throw new GateError("not_found", `project ${projectId} not found`);
  const production = await trx
    .selectFrom("environments")
    .select("id")
    .where("project_id", "=", projectId)
    .where("slug", "=", "production")
    .executeTakeFirst();
  if (!production) throw new GateError("failed_precondition", `project ${projectId} has no production environment`);
  return {
    id: project.id,
    workspaceId: project.workspace_id,
    tenantId: project.tenant_id,
    liveDeploymentId: project.live_deployment_id,
    isRolledBack: project.is_rolled_back,
    productionEnvironmentId: production.id,
  };
}

/** The deployment as the gates see it; NotFound when it is missing. */
export async function loadGateDeployment(trx: Transaction<Database>, deploymentId: string): Promise<GateDeployment> {
  const deployment = await trx
    .selectFrom("deployments")
    .select(["id", "project_id", "environment_id", "status"])
    .where("id", "=", deploymentId)
    .executeTakeFirst();
  if (!deployment) throw new GateError("not_found", `deployment ${deploymentId} not found`);
  return { id: deployment.id, projectId: deployment.project_id, environmentId: deployment.environment_id, status: deployment.status };
}
