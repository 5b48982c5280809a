import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.js";

export interface ReportedInstance {
  id: string;
  status: "pending" | "running" | "failed" | "stopped";
  address: string | null;
}

export type ReportOutcome = "applied" | "stale" | "no_desired_state";

/**
 * Replaces what an agent observed for one deployment in one region: the reported list becomes
 * the deployment's instances there (instances missing from it are gone). Rows are keyed by
 * (deployment, region, instance id), so nothing of another deployment can be touched. A report
 * whose `observedVersion` is older than the last applied one is ignored (a retried report that
 * arrives late); 0 means the agent does not say and is always applied. One transaction, under
 * the topology row's lock, so concurrent reports for one deployment and region apply in turn.
 */
export async function replaceInstances(
  db: Kysely<Database>,
  deploymentId: string,
  region: string,
  observedVersion: number,
  instances: readonly ReportedInstance[],
  /** Runs in the same transaction when the report changed the region's running addresses. */
  onRunningAddressesChanged?: (trx: Transaction<Database>) => Promise<void>,
): Promise<ReportOutcome> {
  return db.transaction().execute(async (trx) => {
    const topology = await trx
      .selectFrom("deployment_topology")
      .select("reported_version")
      .where("deployment_id", "=", deploymentId)
      .where("region", "=", region)
      .forUpdate()
      .executeTakeFirst();
    if (!topology) return "no_desired_state";
    if (observedVersion > 0 && observedVersion < Number(topology.reported_version)) return "stale";
    const before = onRunningAddressesChanged ? await runningAddresses(trx, deploymentId, region) : "";
    let gone = trx.deleteFrom("instances").where("deployment_id", "=", deploymentId).where("region", "=", region);
    if (instances.length > 0) gone = gone.where("id", "not in", instances.map((i) => i.id));
    await gone.execute();
    if (instances.length > 0) {
      await trx
        .insertInto("instances")
        .values(instances.map((i) => ({ id: i.id, deployment_id: deploymentId, region, status: i.status, address: i.address })))
        .onDuplicateKeyUpdate((eb) => ({
          status: eb.fn("values", [eb.ref("status")]),
          address: eb.fn("values", [eb.ref("address")]),
        }))
        .execute();
    }
    if (observedVersion > Number(topology.reported_version)) {
      await trx
        .updateTable("deployment_topology")
        .set({ reported_version: observedVersion })
        .where("deployment_id", "=", deploymentId)
        .where("region", "=", region)
        .execute();
    }
    if (onRunningAddressesChanged && (await runningAddresses(trx, deploymentId, region)) !== before) await onRunningAddressesChanged(trx);
    return "applied";
  });
}

/** The running instances' addresses of a deployment in a region, as one comparable string. */
async function runningAddresses(trx: Transaction<Database>, deploymentId: string, region: string): Promise<string> {
  const rows = await trx
    .selectFrom("instances")
    .select(["id", "address"])
    .where("deployment_id", "=", deploymentId)
    .where("region", "=", region)
    .where("status", "=", "running")
    .orderBy("id")
    .execute();
  return rows.map((r) => `${r.id}=${r.address ?? ""}`).join(",");
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
