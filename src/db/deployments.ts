import type { Kysely, Transaction } from "kysely";
import { appendEvents } from "./events.js";
import type { Database } from "./schema.js";

/** Phases a deployment moves through, in order (issue: pending → … → ready). */
export const PHASES = ["building", "deploying", "network", "finalizing"] as const;
export type Phase = (typeof PHASES)[number];
export type DeploymentStatus = "pending" | Phase | "ready" | "failed" | "cancelled";
export const TERMINAL_STATUSES: readonly DeploymentStatus[] = ["ready", "failed", "cancelled"];

/** Everything the Deployment workflow needs to know about its deployment, loaded once. */
export interface DeploymentContext {
  id: string;
  status: DeploymentStatus;
  tenantId: string;
  workspaceId: string;
  workspaceSlug: string;
  projectId: string;
  projectSlug: string;
  environmentId: string;
  environmentSlug: string;
  isProduction: boolean;
  image: string | null;
  gitSha: string | null;
  gitBranch: string | null;
  gitRepository: string | null;
  gitDirectory: string | null;
}

export async function loadDeploymentContext(db: Kysely<Database>, deploymentId: string): Promise<DeploymentContext | undefined> {
  const row = await db
    .selectFrom("deployments as d")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .innerJoin("workspaces as w", "w.id", "d.workspace_id")
    .innerJoin("environments as e", "e.id", "d.environment_id")
    .select([
      "d.id",
      "d.status",
      "d.image",
      "d.git_sha",
      "d.git_branch",
      "d.git_repository",
      "d.git_directory",
      "w.tenant_id",
      "w.id as workspace_id",
      "w.slug as workspace_slug",
      "p.id as project_id",
      "p.slug as project_slug",
      "e.id as environment_id",
      "e.slug as environment_slug",
    ])
    .where("d.id", "=", deploymentId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    status: row.status as DeploymentStatus,
    tenantId: row.tenant_id,
    workspaceId: row.workspace_id,
    workspaceSlug: row.workspace_slug,
    projectId: row.project_id,
    projectSlug: row.project_slug,
    environmentId: row.environment_id,
    environmentSlug: row.environment_slug,
    isProduction: row.environment_slug === "production",
    image: row.image,
    gitSha: row.git_sha,
    gitBranch: row.git_branch,
    gitRepository: row.git_repository,
    gitDirectory: row.git_directory,
  };
}

/** Records the start of a phase: the deployment's status and a running step (idempotent). */
export async function startPhase(db: Kysely<Database>, deploymentId: string, phase: Phase, at: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // The deployment row first: taking its exclusive lock before the step's foreign-key check
    // takes a shared one avoids a lock upgrade that could deadlock with a status report.
    await trx.updateTable("deployments").set({ status: phase }).where("id", "=", deploymentId).execute();
    await trx
      .insertInto("deployment_steps")
      .values({ deployment_id: deploymentId, phase, status: "running", started_at: at })
      .onDuplicateKeyUpdate({ status: "running", ended_at: null, error: null })
      .execute();
  });
}

/** Records a phase the deployment does not need (building, for a pre-built image). */
export async function skipPhase(db: Kysely<Database>, deploymentId: string, phase: Phase, at: Date): Promise<void> {
  await db
    .insertInto("deployment_steps")
    .values({ deployment_id: deploymentId, phase, status: "skipped", started_at: at, ended_at: at })
    .onDuplicateKeyUpdate({ status: "skipped" })
    .execute();
}

/** Records the end of a running phase, successful or not (idempotent: an ended phase stays). */
export async function endPhase(db: Kysely<Database> | Transaction<Database>, deploymentId: string, phase: Phase, at: Date, error?: string): Promise<void> {
  await db
    .updateTable("deployment_steps")
    .set({ status: error ? "failed" : "succeeded", ended_at: at, error: error ?? null })
    .where("deployment_id", "=", deploymentId)
    .where("phase", "=", phase)
    .where("status", "=", "running")
    .execute();
}

/** Final status plus its outbox event, in one transaction. */
export async function finishDeployment(
  trx: Transaction<Database>,
  deployment: DeploymentContext,
  status: "ready" | "failed" | "cancelled",
  error?: string,
): Promise<void> {
  await trx
    .updateTable("deployments")
    .set({ status, error: error ?? null, awakeable_id: null })
    .where("id", "=", deployment.id)
    .execute();
  // A ready deployment has finished its last phase: both become visible together.
  if (status === "ready") await endPhase(trx, deployment.id, "finalizing", new Date());
  const type = { ready: "DeploymentReady", failed: "DeploymentFailed", cancelled: "DeploymentCancelled" }[status];
  await appendEvents(trx, [
    {
      tenantId: deployment.tenantId,
      workspaceId: deployment.workspaceId,
      type,
      subject: deployment.id,
      payload: { projectId: deployment.projectId, deploymentId: deployment.id, environment: deployment.environmentSlug, ...(error ? { error } : {}) },
    },
  ]);
}

/** Where ReportDeploymentStatus finds the awakeable to resolve once the instances answered. */
export async function publishAwakeable(db: Kysely<Database>, deploymentId: string, awakeableId: string): Promise<void> {
  await db.updateTable("deployments").set({ awakeable_id: awakeableId }).where("id", "=", deploymentId).execute();
}

/** The image the build produced, as the deployment will run it. */
export async function recordImage(db: Kysely<Database>, deploymentId: string, image: string): Promise<void> {
  await db.updateTable("deployments").set({ image }).where("id", "=", deploymentId).execute();
}
