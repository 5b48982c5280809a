// The stages of a deployment's build as rows (build_steps): started, then ended with their log
// tail. Idempotent, so a stage that runs again after a crash overwrites its own row.

import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

const MAX_TAIL = 16 * 1024;

export async function startBuildStep(db: Kysely<Database>, deploymentId: string, name: string, position: number): Promise<void> {
  await db
    .insertInto("build_steps")
    .values({ deployment_id: deploymentId, name, position, status: "running", started_at: new Date() })
    .onDuplicateKeyUpdate({ status: "running", ended_at: null, error: null, log_tail: null })
    .execute();
}

export async function endBuildStep(db: Kysely<Database>, deploymentId: string, name: string, outcome: { logTail: string; error?: string; status?: "succeeded" | "failed" | "cancelled" }): Promise<void> {
  await db
    .updateTable("build_steps")
    .set({
      status: outcome.status ?? (outcome.error ? "failed" : "succeeded"),
      ended_at: new Date(),
      log_tail: outcome.logTail.slice(-MAX_TAIL),
      error: outcome.error?.slice(0, MAX_TAIL) ?? null,
    })
    .where("deployment_id", "=", deploymentId)
    .where("name", "=", name)
    .execute();
}

/** A cancelled deployment's stage still marked running ends cancelled. */
export async function cancelRunningBuildSteps(db: Kysely<Database>, deploymentId: string): Promise<void> {
  await db.updateTable("build_steps").set({ status: "cancelled", ended_at: new Date() }).where("deployment_id", "=", deploymentId).where("status", "=", "running").execute();
}
