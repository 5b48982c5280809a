import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { checkPromote, checkRollback } from "../domain/gates.js";
import { deploymentTargetOf, deploymentTargetQuery } from "./gatewayConfig.js";
import { bumpTopologyVersions, setDesiredRunning } from "../db/topology.js";
import { lockedProjectOf, projectLockQuery } from "./projectLock.js";
import { selectTogether } from "../db/batch.js";

/**
 * Before a promote or rollback: a target that is in standby (or stopped) in some region is
 * desired running again, so the agents start its instances before the swap points live traffic
 * at it. The gates are checked first, under the project's lock, so a live change that cannot
 * happen wakes nothing. Returns whether anything changed (the caller then waits for instances).
 */
export async function wakeTarget(
  trx: Transaction<Database>,
  input: { projectId: string; targetDeploymentId: string; mode: "promote" | "rollback"; expectedSourceId?: string },
): Promise<{ woken: boolean }> {
  const [locked, targetRows] = await selectTogether(trx, [projectLockQuery(trx, input.projectId), deploymentTargetQuery(trx, input.targetDeploymentId)]);
  const project = lockedProjectOf(locked, input.projectId);
  const target = deploymentTargetOf(targetRows, input.targetDeploymentId);
  if (input.mode === "rollback") checkRollback(project, target, input.expectedSourceId);
  else checkPromote(project, target);
  if (!(await setDesiredRunning(trx, target.id))) return { woken: false };
  await bumpTopologyVersions(trx, target.id);
  return { woken: true };
}
