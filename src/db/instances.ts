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
