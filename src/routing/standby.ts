import type { Transaction } from "kysely";
import { appendEvents } from "../db/events.js";
import type { Database } from "../db/schema.js";
import { bumpTopologyVersions } from "./liveSwap.js";
import { lockProject } from "./projectLock.js";

/**
 * Puts a previous live deployment to standby once its grace period has passed. The live
 * deployment is never stopped (invariant 10): if it became live again meanwhile, nothing happens.
 */
export async function standbyDeployment(
  trx: Transaction<Database>,
  input: { projectId: string; deploymentId: string },
): Promise<{ outcome: "standby" | "still_live" | "already_standby" }> {
  const project = await lockProject(trx, input.projectId);
  if (project.liveDeploymentId === input.deploymentId) return { outcome: "still_live" };
  const updated = await trx
    .updateTable("deployment_topology")
    .set({ desired_status: "standby" })
    .where("deployment_id", "=", input.deploymentId)
    .where("desired_status", "=", "running")
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) return { outcome: "already_standby" };
  await bumpTopologyVersions(trx, input.deploymentId);
  await appendEvents(trx, [
    {
      tenantId: project.tenantId,
      workspaceId: project.workspaceId,
      type: "DeploymentStandby",
      subject: input.deploymentId,
      payload: { projectId: project.id, deploymentId: input.deploymentId },
    },
  ]);
  return { outcome: "standby" };
}
