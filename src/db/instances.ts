import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export interface ReportedInstance {
  id: string;
  status: "pending" | "running" | "failed" | "stopped";
  address: string | null;
}

/** Records what an agent observed in one region (upsert per instance id). */
export async function recordInstances(db: Kysely<Database>, deploymentId: string, region: string, instances: ReportedInstance[]): Promise<void> {
  if (instances.length === 0) return;
  await db
    .insertInto("instances")
    .values(instances.map((i) => ({ id: i.id, deployment_id: deploymentId, region, status: i.status, address: i.address })))
    .onDuplicateKeyUpdate((eb) => ({
      status: eb.fn("values", [eb.ref("status")]),
      address: eb.fn("values", [eb.ref("address")]),
      region: eb.fn("values", [eb.ref("region")]),
    }))
    .execute();
}

/** True when every region of the deployment's topology has at least one running instance. */
export async function allRegionsRunning(db: Kysely<Database>, deploymentId: string): Promise<boolean> {
  const regions = await db.selectFrom("deployment_topology").select("region").where("deployment_id", "=", deploymentId).execute();
  if (regions.length === 0) return false;
  const running = await db
    .selectFrom("instances")
    .select("region")
    .distinct()
    .where("deployment_id", "=", deploymentId)
    .where("status", "=", "running")
    .execute();
  const runningRegions = new Set(running.map((r) => r.region));
  return regions.every((r) => runningRegions.has(r.region));
}

export type InstancesOutcome = { status: "running" } | { status: "failed"; message: string } | { status: "waiting" };

/**
 * What the agents reported so far: every region running, a region that failed (its report's
 * message was kept in deployments.error), or still waiting.
 */
export async function instancesOutcome(db: Kysely<Database>, deploymentId: string): Promise<InstancesOutcome> {
  if (await allRegionsRunning(db, deploymentId)) return { status: "running" };
  const failed = await db
    .selectFrom("instances")
    .select("region")
    .where("deployment_id", "=", deploymentId)
    .where("status", "=", "failed")
    .executeTakeFirst();
  if (!failed) return { status: "waiting" };
  const row = await db.selectFrom("deployments").select("error").where("id", "=", deploymentId).executeTakeFirst();
  return { status: "failed", message: row?.error ?? `region ${failed.region}: instances failed` };
}
