import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { deployPhaseDuration, deploymentsFinished, deployTimeToReady, secondsSince } from "./metrics.js";

// The deploy workflow's measurements. Each is taken inside the ctx.run step that records the
// same fact in the database, so it is taken once per fact: a replayed step returns its journaled
// result without running again.

/** A phase ended: its duration since `startedAtMs`, the journaled result of its start step. */
export function phaseEnded(phase: string, outcome: "succeeded" | "failed", startedAtMs: unknown): void {
  // A start step journaled before this measurement existed returned nothing: no duration then.
  if (typeof startedAtMs !== "number") return;
  deployPhaseDuration.observe({ phase, outcome }, secondsSince(startedAtMs));
}

/** The deployment is ready: the time since CreateDeployment stored it. */
export async function deploymentReady(db: Kysely<Database>, deploymentId: string, isProduction: boolean): Promise<void> {
  deploymentsFinished.inc({ status: "ready" });
  const row = await db.selectFrom("deployments").select("created_at").where("id", "=", deploymentId).executeTakeFirst();
  if (row) deployTimeToReady.observe({ environment: isProduction ? "production" : "preview" }, secondsSince(row.created_at.getTime()));
}

export function deploymentEnded(status: "failed" | "cancelled"): void {
  deploymentsFinished.inc({ status });
}
