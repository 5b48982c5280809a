/**
 * Preconditions of promote and rollback — the one place they live. The API checks them before
 * it calls Restate (fast, clear errors) and the Project object checks them again inside its
 * lock (the truth), so both answer with the same code and message.
 */

export type GateCode = "invalid_argument" | "not_found" | "already_exists" | "failed_precondition" | "resource_exhausted" | "permission_denied";

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
      `expected_live_deployment_id ${expectedSourceId} is not live (live is ${project.liveDeploymentId})`,
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

/** What a promote does when the candidate's spec has breaking changes against the live one's. */
export type BreakingChangesPolicy = "allow" | "warn" | "block";
export const BREAKING_CHANGES_POLICIES: readonly BreakingChangesPolicy[] = ["allow", "warn", "block"];

/** A breaking change as the gate reports it (src/openapi/specDiffer.ts has the full record). */
export interface GateApiChange {
  id: string;
  method: string;
  path: string;
  message: string;
}

export type ApiGateVerdict =
  /** Nothing to report: no breaking change, or the policy allows them. */
  | { kind: "pass" }
  /** Go ahead, but return the changes and emit a BreakingApiChange event. */
  | { kind: "warn"; changes: GateApiChange[] };

/** How many changes a refusal names before "and N more". */
const NAMED_CHANGES = 20;

/**
 * The API gate of promote (and of a production deploy's automatic go-live): `block` refuses a
 * deployment whose spec breaks the live one's clients unless the caller accepts it explicitly;
 * `warn` lets it through with the changes; `allow` says nothing.
 */
export function checkBreakingChanges(
  policy: BreakingChangesPolicy,
  target: { id: string },
  liveDeploymentId: string,
  breaking: readonly GateApiChange[],
  allowBreakingChanges: boolean,
  /** Breaking changes in all, when `breaking` holds only the first ones. */
  total = breaking.length,
): ApiGateVerdict {
  if (breaking.length === 0 || policy === "allow") return { kind: "pass" };
  if (policy === "block" && !allowBreakingChanges) {
    const named = breaking.slice(0, NAMED_CHANGES).map(describeChange);
    const more = total > named.length ? `; and ${total - named.length} more` : "";
    throw new GateError(
      "failed_precondition",
      `deployment ${target.id} has ${total} breaking API change(s) against live deployment ${liveDeploymentId} and the project's breaking_changes policy is block (set allow_breaking_changes to promote anyway): ${named.join("; ")}${more}`,
    );
  }
  return { kind: "warn", changes: [...breaking] };
}

export function describeChange(change: GateApiChange): string {
  const operation = [change.method, change.path].filter(Boolean).join(" ");
  return `${operation ? `${operation}: ` : ""}${change.message} [${change.id}]`;
}
