/**
 * Preconditions of promote and rollback — the one place they live. The API checks them before
 * it calls Restate (fast, clear errors) and the Project object checks them again inside its
 * lock (the truth), so both answer with the same code and message.
 */

export type GateCode = "invalid_argument" | "not_found" | "already_exists" | "failed_precondition" | "resource_exhausted";

export class GateError extends Error {
  constructor(
    readonly code: GateCode,
    message: string,
  ) {
    super(message);
    this.name = "GateError";
  }
}

export interface GateDeployment {
  id: string;
  projectId: string;
  environmentId: string;
  status: string;
}

export interface GateProject {
  id: string;
  liveDeploymentId: string | null;
  isRolledBack: boolean;
  productionEnvironmentId: string;
}

export type PromoteKind = "promote" | "confirm_rollback";

/**
 * Promote makes `target` live. Promoting the deployment that is already live while the project
 * is rolled back is the "confirm rollback": it keeps the deployment and clears the flag.
 */
export function checkPromote(project: GateProject, target: GateDeployment): PromoteKind {
  sameProject(project, target);
  production(project, target, "promoted");
  ready(target, "promoted");
  if (project.liveDeploymentId === target.id) {
    if (project.isRolledBack) return "confirm_rollback";
    throw new GateError("failed_precondition", `deployment ${target.id} is already live`);
  }
  return "promote";
}

/**
 * Rollback points live traffic back at an earlier deployment and marks the project rolled back,
 * so new production deploys stop taking live traffic until someone promotes again. When the
 * caller names the source it must still be live: a stale pipeline cannot roll back twice.
 */
export function checkRollback(project: GateProject, target: GateDeployment, expectedSourceId?: string): void {
  sameProject(project, target);
  production(project, target, "rolled back to");
  if (!project.liveDeploymentId) {
    throw new GateError("failed_precondition", `project ${project.id} has no live deployment to roll back from`);
  }
  if (expectedSourceId && expectedSourceId !== project.liveDeploymentId) {
    throw new GateError(
      "failed_precondition",
      `source_deployment_id ${expectedSourceId} is not live (live is ${project.liveDeploymentId})`,
    );
  }
  if (project.liveDeploymentId === target.id) {
    throw new GateError("failed_precondition", `deployment ${target.id} is already live; roll back to an earlier deployment`);
  }
  ready(target, "rolled back to");
}

function sameProject(project: GateProject, target: GateDeployment) {
  if (target.projectId !== project.id) {
    throw new GateError("invalid_argument", `deployment ${target.id} does not belong to project ${project.id}`);
  }
}

function production(project: GateProject, target: GateDeployment, verb: string) {
  if (target.environmentId !== project.productionEnvironmentId) {
    throw new GateError("failed_precondition", `deployment ${target.id} is not a production deployment and cannot be ${verb}`);
  }
}

function ready(target: GateDeployment, verb: string) {
  if (target.status !== "ready") {
    throw new GateError("failed_precondition", `deployment ${target.id} is ${target.status}; only a ready deployment can be ${verb}`);
  }
}
