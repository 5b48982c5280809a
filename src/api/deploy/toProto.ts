import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { InstanceStatus } from "../../gen/ctrl/v1/cluster_pb.js";
import type { Kysely } from "kysely";
import { fromJson, type Database, type Deployment as DeploymentRow, type Environment as EnvironmentRow, type Project as ProjectRow, type Workspace as WorkspaceRow } from "../../db/schema.js";
import {
  type Deployment,
  DeploymentPhase,
  DeploymentSchema,
  DeploymentStatus,
  DeploymentStepStatus,
  type Environment,
  EnvironmentSchema,
  GitSourceSchema,
  RuntimeSettingsSchema,
  type Project,
  ProjectSchema,
  type Workspace,
  WorkspaceSchema,
} from "../../gen/ctrl/v1/deploy_pb.js";

// Rows → API messages. Environment variable values never leave through the API (only keys).

export function workspaceToProto(row: WorkspaceRow): Workspace {
  return create(WorkspaceSchema, {
    id: row.id,
    slug: row.slug,
    name: row.name,
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  });
}

export function projectToProto(row: ProjectRow): Project {
  return create(ProjectSchema, {
    id: row.id,
    workspaceId: row.workspace_id,
    slug: row.slug,
    name: row.name,
    liveDeploymentId: row.live_deployment_id ?? "",
    isRolledBack: row.is_rolled_back,
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  });
}

export function environmentToProto(row: EnvironmentRow): Environment {
  return create(EnvironmentSchema, { id: row.id, projectId: row.project_id, slug: row.slug, createTime: timestampFromDate(row.created_at) });
}

export const STATUS_TO_PROTO: Record<string, DeploymentStatus> = {
  pending: DeploymentStatus.PENDING,
  building: DeploymentStatus.BUILDING,
  deploying: DeploymentStatus.DEPLOYING,
  network: DeploymentStatus.NETWORK,
  finalizing: DeploymentStatus.FINALIZING,
  ready: DeploymentStatus.READY,
  failed: DeploymentStatus.FAILED,
  cancelled: DeploymentStatus.CANCELLED,
};
export const STATUS_FROM_PROTO = Object.fromEntries(Object.entries(STATUS_TO_PROTO).map(([k, v]) => [v, k])) as Record<DeploymentStatus, string>;

const PHASE_TO_PROTO: Record<string, DeploymentPhase> = {
  building: DeploymentPhase.BUILD,
  deploying: DeploymentPhase.DEPLOY,
  network: DeploymentPhase.NETWORK,
  finalizing: DeploymentPhase.FINALIZE,
};
const STEP_STATUS_TO_PROTO: Record<string, DeploymentStepStatus> = {
  running: DeploymentStepStatus.RUNNING,
  succeeded: DeploymentStepStatus.SUCCEEDED,
  failed: DeploymentStepStatus.FAILED,
  skipped: DeploymentStepStatus.SKIPPED,
  cancelled: DeploymentStepStatus.CANCELLED,
};

const INSTANCE_STATUS_TO_PROTO: Record<string, InstanceStatus> = {
  pending: InstanceStatus.PENDING,
  running: InstanceStatus.RUNNING,
  failed: InstanceStatus.FAILED,
  stopped: InstanceStatus.STOPPED,
};

/** Deployments with their steps, hostnames, instances and live flag, in a constant number of queries. */
export async function deploymentsToProto(db: Kysely<Database>, rows: DeploymentRow[]): Promise<Deployment[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [steps, routes, environments, projects, instances, buildSteps] = await Promise.all([
    db.selectFrom("deployment_steps").selectAll().where("deployment_id", "in", ids).orderBy("started_at").execute(),
    db.selectFrom("routes").select(["hostname", "deployment_id"]).where("deployment_id", "in", ids).orderBy("hostname").execute(),
    db.selectFrom("environments").select(["id", "slug"]).where("id", "in", [...new Set(rows.map((r) => r.environment_id))]).execute(),
    db.selectFrom("projects").select(["id", "live_deployment_id"]).where("id", "in", [...new Set(rows.map((r) => r.project_id))]).execute(),
    db
      .selectFrom("instances")
      .select(["id", "deployment_id", "region", "status", "address", "updated_at"])
      .where("deployment_id", "in", ids)
      .orderBy("region")
      .orderBy("id")
      .execute(),
    db.selectFrom("build_steps").selectAll().where("deployment_id", "in", ids).orderBy("position").execute(),
  ]);
  const slugOf = new Map(environments.map((e) => [e.id, e.slug]));
  const liveOf = new Map(projects.map((p) => [p.id, p.live_deployment_id]));
  return rows.map((row) => {
    const readyStep = steps.find((s) => s.deployment_id === row.id && s.phase === "finalizing" && s.status === "succeeded");
    return create(DeploymentSchema, {
      id: row.id,
      workspaceId: row.workspace_id,
      projectId: row.project_id,
      environmentId: row.environment_id,
      environmentSlug: slugOf.get(row.environment_id) ?? "",
      status: STATUS_TO_PROTO[row.status] ?? DeploymentStatus.UNSPECIFIED,
      steps: steps
        .filter((s) => s.deployment_id === row.id)
        .map((s) => ({
          phase: PHASE_TO_PROTO[s.phase] ?? DeploymentPhase.UNSPECIFIED,
          status: STEP_STATUS_TO_PROTO[s.status] ?? DeploymentStepStatus.UNSPECIFIED,
          startTime: timestampFromDate(s.started_at),
          endTime: s.ended_at && s.status !== "running" ? timestampFromDate(s.ended_at) : undefined,
          error: s.error ?? "",
          buildStages:
            s.phase === "building"
              ? buildSteps
                  .filter((b) => b.deployment_id === row.id)
                  .map((b) => ({
                    name: b.name,
                    status: STEP_STATUS_TO_PROTO[b.status] ?? DeploymentStepStatus.UNSPECIFIED,
                    startTime: timestampFromDate(b.started_at),
                    endTime: b.ended_at && b.status !== "running" ? timestampFromDate(b.ended_at) : undefined,
                    logTail: b.log_tail ?? "",
                    error: b.error ?? "",
                  }))
              : [],
        })),
      hostnames: routes.filter((r) => r.deployment_id === row.id).map((r) => r.hostname),
      isLive: liveOf.get(row.project_id) === row.id,
      image: row.image ?? "",
      command: fromJson<string[]>(row.command) ?? [],
      port: row.port ?? 0,
      envKeys: Object.keys(fromJson<Record<string, string>>(row.env) ?? {}).sort(),
      git: row.git_sha
        ? create(GitSourceSchema, {
            sha: row.git_sha,
            branch: row.git_branch ?? "",
            message: row.git_message ?? "",
            author: row.git_author ?? "",
            repository: row.git_repository ?? "",
            directory: row.git_directory ?? "",
          })
        : undefined,
      errorMessage: row.error ?? "",
      createTime: timestampFromDate(row.created_at),
      updateTime: timestampFromDate(row.updated_at),
      readyTime: row.status === "ready" && readyStep?.ended_at ? timestampFromDate(readyStep.ended_at) : undefined,
      runtime: create(RuntimeSettingsSchema, {
        replicas: row.replicas,
        healthCheckPath: row.health_check_path ?? "/",
        startupTimeout: row.startup_timeout_ms === null ? undefined : durationFromMs(row.startup_timeout_ms),
      }),
      instances: instances
        .filter((i) => i.deployment_id === row.id)
        .map((i) => ({
          region: i.region,
          instanceId: i.id,
          status: INSTANCE_STATUS_TO_PROTO[i.status] ?? InstanceStatus.UNSPECIFIED,
          address: i.address ?? "",
          updateTime: timestampFromDate(i.updated_at),
        })),
    });
  });
}
