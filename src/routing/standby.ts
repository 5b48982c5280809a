import type { Transaction } from "kysely";
import { appendEvents } from "../db/events.js";
import type { Database } from "../db/schema.js";
import { setDesiredStandby } from "../db/topology.js";
import { lockProject } from "./projectLock.js";

/**
 * Puts a previous live deployment to standby once its grace period has passed. The live
 * deployment is never stopped (live-never-stopped): if it became live again meanwhile, nothing happens.
 */
export async function standbyDeployment(
  trx: Transaction<Database>,
  input: { projectId: string; deploymentId: string },
): Promise<{ outcome: "standby" | "still_live" | "already_standby" }> {
  const project = await lockProject(trx, input.projectId);
  if (project.liveDeploymentId === input.deploymentId) return { outcome: "still_live" };
  if (!(await setDesiredStandby(trx, input.deploymentId))) return { outcome: "already_standby" };
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
