import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { isBlocking, parseSpecText } from "./document.js";
import { SpecDiffError, type SpecChangeRecord, type SpecDiffer } from "./specDiffer.js";
import { loadSpec } from "./specStore.js";

/**
 * The changes from one deployment's stored spec to another's. GateError not_found when either has
 * no spec, failed_precondition when either cannot be compared (not OpenAPI 3, external $refs).
 */
export async function compareDeploymentSpecs(db: Kysely<Database>, differ: SpecDiffer, oldDeploymentId: string, newDeploymentId: string): Promise<SpecChangeRecord[]> {
  const [base, revision] = await Promise.all([comparable(db, oldDeploymentId), comparable(db, newDeploymentId)]);
  try {
    return await differ.diff(base, revision);
  } catch (error) {
    if (error instanceof SpecDiffError) throw new GateError("failed_precondition", `the specs of ${oldDeploymentId} and ${newDeploymentId} cannot be compared: ${error.message}`);
    throw error;
  }
}

/** A deployment's spec as a parsed document, or why it has none that can be compared. */
export async function comparable(db: Kysely<Database>, deploymentId: string): Promise<object> {
  const spec = await loadSpec(db, deploymentId);
  if (!spec) throw new GateError("not_found", `deployment ${deploymentId} has no spec (not scraped yet)`);
  if (!spec.document) throw new GateError("not_found", `deployment ${deploymentId} has no spec: ${spec.detail ?? spec.outcome}`);
  const blocking = spec.document.problems.find(isBlocking);
  if (blocking) throw new GateError("failed_precondition", `the spec of deployment ${deploymentId} cannot be compared: ${blocking.message}`);
  return parseSpecText(spec.document.text) as object;
}
