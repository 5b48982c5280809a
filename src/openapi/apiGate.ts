import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { GateError, type BreakingChangesPolicy } from "../domain/gates.js";
import { compareDeploymentSpecs } from "./compareSpecs.js";
import type { SpecChangeRecord, SpecDiffer } from "./specDiffer.js";

/** The breaking changes a promote or a go-live would ship; carried through Restate's journal, so bounded. */
export interface ApiChangesAgainstLive {
  policy: BreakingChangesPolicy;
  liveDeploymentId: string | null;
  breaking: SpecChangeRecord[];
  /** Breaking changes in all (more than `breaking` holds when capped). */
  total: number;
  /** Why nothing was compared (no live deployment, a missing or unusable spec), when so. */
  skipped?: string;
}

const MAX_CARRIED = 100;

/**
 * The input of the API gate (src/domain/gates.ts checkBreakingChanges): the project's policy and
 * the target's breaking changes against the live deployment. When either spec is missing or
 * cannot be compared there is nothing to judge, and the gate passes: a deployment that publishes
 * no spec is not held back by one that did.
 */
export async function apiChangesAgainstLive(db: Kysely<Database>, differ: SpecDiffer, projectId: string, targetDeploymentId: string): Promise<ApiChangesAgainstLive> {
  const project = await db.selectFrom("projects").select(["live_deployment_id", "breaking_changes"]).where("id", "=", projectId).executeTakeFirst();
  if (!project) throw new GateError("not_found", `project ${projectId} not found`);
  const policy = project.breaking_changes as BreakingChangesPolicy;
  const live = project.live_deployment_id;
  const none = (skipped: string): ApiChangesAgainstLive => ({ policy, liveDeploymentId: live, breaking: [], total: 0, skipped });
  if (policy === "allow") return none("the project's breaking_changes policy is allow");
  if (!live || live === targetDeploymentId) return none("no other live deployment to compare with");
  try {
    const breaking = (await compareDeploymentSpecs(db, differ, live, targetDeploymentId)).filter((c) => c.level === "breaking");
    return { policy, liveDeploymentId: live, breaking: breaking.slice(0, MAX_CARRIED), total: breaking.length };
  } catch (error) {
    if (error instanceof GateError) return none(error.message);
    throw error;
  }
}

/**
 * Whether the API gate has two specs to compare. False exactly when apiChangesAgainstLive would
 * pass without diffing (policy allow, no other live deployment, a stored spec missing on either
 * side); true may still end in a pass (a spec that cannot be compared). One query and no diff,
 * so the swap asks it inside its transaction — in the round trip of its lock (specsToCompareQuery):
 * a promote with nothing to compare is one step, and only one with two specs pays for the gate's
 * own step (oasdiff runs outside it).
 */
export function apiGateHasSpecsToCompare(
  project: { breakingChanges: BreakingChangesPolicy; liveDeploymentId: string | null },
  targetDeploymentId: string,
  stored: readonly { n: number | string | bigint }[],
): boolean {
  const live = project.liveDeploymentId;
  if (project.breakingChanges === "allow" || !live || live === targetDeploymentId) return false;
  return Number(stored[0]?.n ?? 0) === 2;
}

/** How many of the target and the project's live deployment have a stored spec (read before the lock's answer, so by subquery). */
export function specsToCompareQuery(db: Kysely<Database>, projectId: string, targetDeploymentId: string) {
  return db
    .selectFrom("openapi_specs as s")
    .innerJoin("openapi_documents as d", "d.hash", "s.document_hash")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where((eb) => eb.or([eb("s.deployment_id", "=", targetDeploymentId), eb("s.deployment_id", "=", eb.selectFrom("projects").select("live_deployment_id").where("id", "=", projectId))]))
    .where("d.content", "is not", null);
}
