import type { Transaction } from "kysely";
import { appendChanges } from "../db/changes.js";
import { appendEvents } from "../db/events.js";
import { newId } from "../db/ids.js";
import type { Database } from "../db/schema.js";
import { checkPromote, checkRollback } from "../domain/gates.js";
import { loadDeploymentTarget, upsertGatewayConfigs } from "./gatewayConfig.js";
import { lockProject } from "./projectLock.js";

export type LiveSwapMode =
  /** Promote through the API: the gates decide. */
  | "promote"
  /** Roll back to an earlier deployment: the project becomes rolled back. */
  | "rollback"
  /** A production deploy finishing: becomes live unless the project is rolled back. */
  | "activate";

export interface LiveSwapInput {
  projectId: string;
  targetDeploymentId: string;
  mode: LiveSwapMode;
  /** Rollback only: the deployment the caller believes is live. */
  expectedSourceId?: string;
  /** Live-level hostnames to create if missing (a deploy's generated ones). */
  ensureHostnames?: { hostname: string; sticky: "live" | "environment" }[];
  platformApex: string;
}

export interface LiveSwapResult {
  /** What happened: the deployment went live, the rollback was confirmed, or nothing (rolled back). */
  outcome: "promoted" | "rolled_back" | "confirmed_rollback" | "skipped_rolled_back";
  previousLiveDeploymentId: string | null;
  liveDeploymentId: string | null;
  isRolledBack: boolean;
  movedHostnames: string[];
  /** Last change-feed version written (0 when nothing was written). */
  version: number;
  /** When the transaction ran (ms since epoch); the standby grace counts from here. */
  committedAt: number;
}

/**
 * The atomic swap (invariant 2): in ONE transaction the gateway configs of every live-level
 * hostname (the `live` ones and the production environment's) are pointed at the target, then
 * the routes move, the live pointer and the rolled-back flag change, the target is desired
 * running again, and the change versions and the outbox event are written. A failure anywhere
 * rolls all of it back. A constant number of statements whatever the number of hostnames.
 */
export async function swapLive(trx: Transaction<Database>, input: LiveSwapInput): Promise<LiveSwapResult> {
  const project = await lockProject(trx, input.projectId);
  const target = await loadDeploymentTarget(trx, input.targetDeploymentId);
  const previous = project.liveDeploymentId;
  const unchanged = (outcome: LiveSwapResult["outcome"]): LiveSwapResult => ({
    outcome,
    previousLiveDeploymentId: previous,
    liveDeploymentId: previous,
    isRolledBack: project.isRolledBack,
    movedHostnames: [],
    version: 0,
    committedAt: Date.now(),
  });

  let rolledBack: boolean;
  if (input.mode === "rollback") {
    checkRollback(project, target, input.expectedSourceId);
    rolledBack = true;
  } else {
    if (input.mode === "activate" && project.isRolledBack) return unchanged("skipped_rolled_back");
    if (input.mode === "activate" && previous === target.id) return unchanged("promoted");
    const kind = checkPromote(project, target);
    if (kind === "confirm_rollback") {
      await trx.updateTable("projects").set({ is_rolled_back: false }).where("id", "=", project.id).execute();
      await appendEvents(trx, [event(project, "RollbackConfirmed", target.id, { deploymentId: target.id })]);
      return { ...unchanged("confirmed_rollback"), isRolledBack: false };
    }
    rolledBack = false;
  }

  // Every hostname that follows the live deployment: existing routes plus the ones to create.
  const liveRoutes = await trx
    .selectFrom("routes")
    .select(["hostname"])
    .where("project_id", "=", project.id)
    .where((eb) =>
      eb.or([
        eb("sticky", "=", "live"),
        eb.and([eb("sticky", "=", "environment"), eb("environment_id", "=", project.productionEnvironmentId)]),
      ]),
    )
    .execute();
  const known = new Set(liveRoutes.map((r) => r.hostname));
  const toCreate = (input.ensureHostnames ?? []).filter((h) => !known.has(h.hostname));
  if (toCreate.length > 0) {
    const taken = await trx.selectFrom("routes").select("hostname").where("hostname", "in", toCreate.map((h) => h.hostname)).execute();
    const takenSet = new Set(taken.map((r) => r.hostname));
    const fresh = toCreate.filter((h) => !takenSet.has(h.hostname));
    if (fresh.length > 0) {
      await trx
        .insertInto("routes")
        .values(
          fresh.map((h) => ({
            id: newId("rte"),
            hostname: h.hostname,
            workspace_id: project.workspaceId,
            project_id: project.id,
            environment_id: project.productionEnvironmentId,
            deployment_id: target.id,
            sticky: h.sticky,
          })),
        )
        .execute();
      fresh.forEach((h) => known.add(h.hostname));
    }
  }
  const hostnames = [...known].sort();

  const updated = await trx
    .updateTable("deployment_topology")
    .set({ desired_status: "running" })
    .where("deployment_id", "=", target.id)
    .where("desired_status", "<>", "running")
    .executeTakeFirst();
  // The same predicate that found them: no hostname list goes over the wire, whatever its size.
  await trx
    .updateTable("routes")
    .set({ deployment_id: target.id })
    .where("project_id", "=", project.id)
    .where((eb) =>
      eb.or([eb("sticky", "=", "live"), eb.and([eb("sticky", "=", "environment"), eb("environment_id", "=", project.productionEnvironmentId)])]),
    )
    .execute();
  await trx
    .updateTable("projects")
    .set({ live_deployment_id: target.id, is_rolled_back: rolledBack })
    .where("id", "=", project.id)
    .execute();

  // Versioned writes last: from here to commit this transaction holds the feed locks.
  const configs = await upsertGatewayConfigs(trx, target, hostnames, input.platformApex);
  const topologyVersion = Number(updated.numUpdatedRows) > 0 ? await bumpTopologyVersions(trx, target.id) : 0;
  const eventType = input.mode === "rollback" ? "DeploymentRolledBack" : "DeploymentPromoted";
  await appendEvents(trx, [
    event(project, eventType, target.id, { deploymentId: target.id, previousDeploymentId: previous, hostnames }),
  ]);
  return {
    outcome: input.mode === "rollback" ? "rolled_back" : "promoted",
    previousLiveDeploymentId: previous,
    liveDeploymentId: target.id,
    isRolledBack: rolledBack,
    movedHostnames: hostnames,
    version: Math.max(configs.lastVersion, topologyVersion),
    committedAt: Date.now(),
  };
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
  );
  for (const [i, row] of rows.entries()) {
    await trx
      .updateTable("deployment_topology")
      .set({ version: versions[i]! })
      .where("deployment_id", "=", deploymentId)
      .where("region", "=", row.region)
      .execute();
  }
  return versions.at(-1)!;
}

function event(project: { tenantId: string; workspaceId: string; id: string }, type: string, subject: string, payload: object) {
  return { tenantId: project.tenantId, workspaceId: project.workspaceId, type, subject, payload: { projectId: project.id, ...payload } };
}
