import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { GateError, type BreakingChangesPolicy, type GateProject } from "../domain/gates.js";

/**
 * Locks the project row for the rest of the transaction. The Restate Project object already
 * serialises a project's routing work; the row lock keeps the database consistent even for a
 * writer that bypasses it (an operator's SQL, a second cluster during a migration).
 */
export async function lockProject(
  trx: Transaction<Database>,
  projectId: string,
): Promise<GateProject & { workspaceId: string; tenantId: string; breakingChanges: BreakingChangesPolicy }> {
  const project = await trx
    .selectFrom("projects")
    .innerJoin("workspaces", "workspaces.id", "projects.workspace_id")
    .select((eb) => [
      "projects.id",
      "projects.workspace_id",
      "projects.live_deployment_id",
      "projects.is_rolled_back",
      "projects.breaking_changes",
      "workspaces.tenant_id",
      eb
        .selectFrom("environments")
        .select("environments.id")
        .whereRef("environments.project_id", "=", "projects.id")
        .where("environments.slug", "=", "production")
        .as("production_environment_id"),
    ])
    .where("projects.id", "=", projectId)
    .forUpdate()
    .executeTakeFirst();
  if (!project) throw new GateError("not_found", `project ${projectId} not found`);
  if (!project.production_environment_id) throw new GateError("failed_precondition", `project ${projectId} has no production environment`);
  return {
    id: project.id,
    workspaceId: project.workspace_id,
    tenantId: project.tenant_id,
    liveDeploymentId: project.live_deployment_id,
    isRolledBack: project.is_rolled_back,
    productionEnvironmentId: project.production_environment_id,
    breakingChanges: project.breaking_changes as BreakingChangesPolicy,
  };
}
