import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { GateError, type BreakingChangesPolicy, type GateProject } from "../domain/gates.js";

/**
 * Locks the project row — and only it — for the rest of the transaction. The Restate Project
 * object already serialises a project's routing work; the row lock keeps the database consistent
 * even for a writer that bypasses it (an operator's SQL, a second cluster during a migration).
 * A locking read locks every row its joins read, so the workspace and the production environment
 * are read in subqueries (plain consistent reads): joined, the workspace row was locked too, and
 * every routing transaction of a workspace waited for the one before it.
 */
export async function lockProject(trx: Transaction<Database>, projectId: string): Promise<LockedProject> {
  return lockedProjectOf(await projectLockQuery(trx, projectId).execute(), projectId);
}

export type LockedProject = GateProject & { workspaceId: string; tenantId: string; breakingChanges: BreakingChangesPolicy };

/** lockProject's locking read, to send in one round trip with the reads after it (src/db/batch.ts). */
export function projectLockQuery(trx: Transaction<Database>, projectId: string) {
  return trx
    .selectFrom("projects")
    .select((eb) => [
      "projects.id",
      "projects.workspace_id",
      "projects.live_deployment_id",
      "projects.is_rolled_back",
      "projects.breaking_changes",
      // The foreign key guarantees the workspace.
      eb.selectFrom("workspaces").select("workspaces.tenant_id").whereRef("workspaces.id", "=", "projects.workspace_id").$asScalar().$notNull().as("tenant_id"),
      eb
        .selectFrom("environments")
        .select("environments.id")
        .whereRef("environments.project_id", "=", "projects.id")
        .where("environments.slug", "=", "production")
        .as("production_environment_id"),
    ])
    .where("projects.id", "=", projectId)
    .forUpdate();
}

/** The locked project from projectLockQuery's rows; NotFound or FailedPrecondition as lockProject answers. */
export function lockedProjectOf(rows: Awaited<ReturnType<ReturnType<typeof projectLockQuery>["execute"]>>, projectId: string): LockedProject {
  const project = rows[0];
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
