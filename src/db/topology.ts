import type { Transaction } from "kysely";
import { appendChanges } from "./changes.js";
import type { Database } from "./schema.js";

// Every write of deployment_topology — what each region's agent should run — lives here, and
// each one publishes the rows it changed on the change feed in the same transaction, so agents
// see every desired state (gap-free-versions).

/** Desired topology per region (the deployment's replicas in each), published on the change feed for the agents. */
export async function writeTopology(trx: Transaction<Database>, deploymentId: string, regions: readonly string[]): Promise<void> {
  const { replicas } = await trx.selectFrom("deployments").select("replicas").where("id", "=", deploymentId).executeTakeFirstOrThrow();
  await trx
    .insertInto("deployment_topology")
    .values(regions.map((region) => ({ deployment_id: deploymentId, region, desired_status: "running" as const, replicas, version: 0 })))
    .onDuplicateKeyUpdate({ desired_status: "running" })
    .execute();
  await bumpTopologyVersions(trx, deploymentId);
}

/** Compensation: a failed or cancelled deployment's instances are stopped. */
export async function stopTopology(trx: Transaction<Database>, deploymentId: string): Promise<void> {
  const updated = await trx
    .updateTable("deployment_topology")
    .set({ desired_status: "stopped" })
    .where("deployment_id", "=", deploymentId)
    .where("desired_status", "<>", "stopped")
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) > 0) await bumpTopologyVersions(trx, deploymentId);
}

/** Previous live → standby: running regions become standby, published. False when none was running. */
export async function setDesiredStandby(trx: Transaction<Database>, deploymentId: string): Promise<boolean> {
  const updated = await trx
    .updateTable("deployment_topology")
    .set({ desired_status: "standby" })
    .where("deployment_id", "=", deploymentId)
    .where("desired_status", "=", "running")
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) return false;
  await bumpTopologyVersions(trx, deploymentId);
  return true;
}

/** Makes every region of a deployment desired running; true when one was not (publish it with bumpTopologyVersions). */
export async function setDesiredRunning(trx: Transaction<Database>, deploymentId: string): Promise<boolean> {
  const updated = await trx
    .updateTable("deployment_topology")
    .set({ desired_status: "running" })
    .where("deployment_id", "=", deploymentId)
    .where("desired_status", "<>", "running")
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

/** Publishes the topology rows of a deployment as changes, so agents see the new desired state; returns the last version. */
export async function bumpTopologyVersions(trx: Transaction<Database>, deploymentId: string): Promise<number> {
  const rows = await trx.selectFrom("deployment_topology").selectAll().where("deployment_id", "=", deploymentId).orderBy("region").execute();
  if (rows.length === 0) return 0;
  const project = await trx.selectFrom("deployments").select("project_id").where("id", "=", deploymentId).executeTakeFirstOrThrow();
  const versions = await appendChanges(
    trx,
    rows.map((row) => ({
      kind: "deployment_topology",
      resourceKey: `${deploymentId}/${row.region}`,
      projectId: project.project_id,
      region: row.region,
      payload: { deploymentId, region: row.region, desiredStatus: row.desired_status, replicas: row.replicas },
    })),
    // Each row records its version, in the round trip of the counter bump.
    (versionAt) => rows.map((row, i) => trx.updateTable("deployment_topology").set({ version: versionAt(i) }).where("deployment_id", "=", deploymentId).where("region", "=", row.region)),
  );
  return versions.at(-1)!;
}
