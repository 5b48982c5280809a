import type { ExpressionBuilder, Transaction } from "kysely";
import { bumpTopologyVersions, setDesiredRunning } from "../db/topology.js";
import { appendEvents, eventReservation } from "../db/events.js";
import { reserve } from "../db/sequences.js";
import { executeBatch, selectTogether } from "../db/batch.js";
import { newId } from "../db/ids.js";
import type { Database } from "../db/schema.js";
import { checkPromote, checkRollback } from "../domain/gates.js";
import { deploymentTargetOf, deploymentTargetQuery, gatewayConfigWrites } from "./gatewayConfig.js";
import { judgeOwnership, reclaimHostnames } from "./hostnameOwnership.js";
import { lockedProjectOf, lockProject, projectLockQuery } from "./projectLock.js";
import { finishDeployment, type DeploymentContext } from "../db/deployments.js";
import type { SpecChangeRecord } from "../openapi/specDiffer.js";
import { apiGateHasSpecsToCompare, specsToCompareQuery } from "../openapi/apiGate.js";

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
  /** Breaking API changes the API gate let through (policy warn, or block overridden): emitted with the swap. */
  breakingApiChanges?: BreakingApiChangeNotice;
  /**
   * Promote only, before the API gate ran: when the gate has two specs to compare, change nothing
   * and answer api_gate_needed (the caller runs the gate in a step of its own, then swaps with its
   * verdict); otherwise the gate has nothing to judge and the swap goes ahead.
   */
  apiGatePending?: boolean;
}

/** What a BreakingApiChange event says (src/openapi/apiGate.ts computes it). */
export interface BreakingApiChangeNotice {
  liveDeploymentId: string;
  policy: string;
  /** Promoted anyway (warn, or block with allow_breaking_changes) or held back (a go-live under block). */
  action: "promoted" | "blocked";
  total: number;
  changes: { id: string; method: string; path: string; message: string }[];
}

export interface LiveSwapResult {
  /** What happened: the deployment went live, the rollback was confirmed, or nothing (rolled back). */
  outcome: "promoted" | "rolled_back" | "confirmed_rollback" | "skipped_rolled_back" | "target_not_running" | "blocked_breaking_changes" | "api_gate_needed";
  previousLiveDeploymentId: string | null;
  liveDeploymentId: string | null;
  isRolledBack: boolean;
  movedHostnames: string[];
  /** Last change-feed version written (0 when nothing was written). */
  version: number;
  /** When the transaction ran (ms since epoch); the standby grace counts from here. */
  committedAt: number;
  /** Breaking API changes against the previous live deployment that the gate reported (warn) or that blocked going live. */
  breakingChanges?: SpecChangeRecord[];
}

/**
 * The atomic swap (atomic-swap, docs/invariants.md): in ONE transaction the routes of every
 * live-level hostname (the `live` ones and the production environment's) move to the target
 * together with their gateway configs, the live pointer and the rolled-back flag change, a deploy
 * going live is desired running again, and the change versions and the outbox event are written.
 * A failure anywhere rolls all of it back. A constant number of statements whatever the number of
 * hostnames, sent in a few round trips (src/db/batch.ts).
 */
export async function swapLive(trx: Transaction<Database>, input: LiveSwapInput): Promise<LiveSwapResult> {
  // The lock and every read the swap judges by, in one round trip (src/db/batch.ts).
  const [locked, targetRows, liveRoutes, storedSpecs] = await selectTogether(trx, [
    projectLockQuery(trx, input.projectId),
    deploymentTargetQuery(trx, input.targetDeploymentId),
    liveRoutesQuery(trx, input.projectId),
    specsToCompareQuery(trx, input.projectId, input.targetDeploymentId),
  ]);
  const project = lockedProjectOf(locked, input.projectId);
  const target = deploymentTargetOf(targetRows, input.targetDeploymentId);
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
    // Before the standby check below, as the gate always ran first: a promote it refuses wakes nothing.
    if (input.apiGatePending && apiGateHasSpecsToCompare(project, target.id, storedSpecs)) return unchanged("api_gate_needed");
  }
  // A promote or rollback never points live traffic at a deployment in standby: nothing changes,
  // and Project.changeLive wakes it, waits for its instances and swaps again.
  if (input.mode !== "activate" && target.inStandby) return unchanged("target_not_running");

  // Every hostname that follows the live deployment: existing routes plus the ones to create.
  const known = new Set(liveRoutes.map((r) => r.hostname));
  const wanted = (input.ensureHostnames ?? []).filter((h) => !known.has(h.hostname));
  // Only hostnames the project owns; one another project still routes is taken back first.
  const ownership = wanted.length
    ? await judgeOwnership(trx, { project, deploymentId: target.id, hostnames: wanted.map((h) => h.hostname), platformApex: input.platformApex, fieldOf: () => "hostname" })
    : new Map();
  const toCreate = wanted.filter((h) => ownership.get(h.hostname)?.kind === "owned");
  await reclaimHostnames(trx, project.id, toCreate.map((h) => h.hostname));
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

  // A deploy going live may still be desired in standby somewhere; a promote's target never is (above).
  const woken = input.mode === "activate" && (await setDesiredRunning(trx, target.id));
  // The routes (by the predicate that found them: no hostname list goes over the wire, whatever
  // its size) and the pointer, in one round trip.
  await executeBatch(trx, [
    trx
      .updateTable("routes")
      .set({ deployment_id: target.id })
      .where("project_id", "=", project.id)
      .where((eb) => followsLive(eb, project.productionEnvironmentId)),
    trx.updateTable("projects").set({ live_deployment_id: target.id, is_rolled_back: rolledBack }).where("id", "=", project.id),
  ]);

  // Versioned writes last: from here to commit this transaction holds the feed locks. The
  // configs with their changes and the outbox rows go in one round trip (sequences.ts: reserve).
  const configs = await gatewayConfigWrites(trx, target, hostnames, input.platformApex);
  const eventType = input.mode === "rollback" ? "DeploymentRolledBack" : "DeploymentPromoted";
  const events = eventReservation(trx, [
    event(project, eventType, target.id, { deploymentId: target.id, previousDeploymentId: previous, hostnames }),
    ...(input.breakingApiChanges && input.mode !== "rollback" ? [breakingApiChangeEvent(project, target.id, input.breakingApiChanges)] : []),
  ]);
  const [firstConfigVersion] = await reserve(trx, configs.reservation ? [configs.reservation, events] : [events]);
  const lastConfigVersion = configs.reservation ? firstConfigVersion! + configs.reservation.count - 1 : 0;
  const topologyVersion = woken ? await bumpTopologyVersions(trx, target.id) : 0;
  return {
    outcome: input.mode === "rollback" ? "rolled_back" : "promoted",
    previousLiveDeploymentId: previous,
    liveDeploymentId: target.id,
    isRolledBack: rolledBack,
    movedHostnames: hostnames,
    version: Math.max(lastConfigVersion, topologyVersion),
    committedAt: Date.now(),
  };
}

/**
 * A production deploy that the API gate keeps from going live by itself (policy block): ready,
 * with its BreakingApiChange event, the live pointer untouched — one transaction.
 */
export async function holdBackFromLive(trx: Transaction<Database>, deployment: DeploymentContext, notice: BreakingApiChangeNotice, changes: SpecChangeRecord[]): Promise<LiveSwapResult> {
  // The project row first, as every routing transaction locks it.
  const project = await lockProject(trx, deployment.projectId);
  await finishDeployment(trx, deployment, "ready");
  await appendEvents(trx, [breakingApiChangeEvent(project, deployment.id, notice)]);
  return {
    outcome: "blocked_breaking_changes",
    previousLiveDeploymentId: project.liveDeploymentId,
    liveDeploymentId: project.liveDeploymentId,
    isRolledBack: project.isRolledBack,
    movedHostnames: [],
    version: 0,
    committedAt: Date.now(),
    breakingChanges: changes,
  };
}

/** The outbox event of breaking API changes that went live (or were held back), at most 50 listed. */
export function breakingApiChangeEvent(project: { tenantId: string; workspaceId: string; id: string }, deploymentId: string, notice: BreakingApiChangeNotice) {
  return event(project, "BreakingApiChange", deploymentId, {
    deploymentId,
    liveDeploymentId: notice.liveDeploymentId,
    policy: notice.policy,
    action: notice.action,
    total: notice.total,
    changes: notice.changes.slice(0, 50).map((c) => ({ id: c.id, method: c.method, path: c.path, message: c.message })),
  });
}

function event(project: { tenantId: string; workspaceId: string; id: string }, type: string, subject: string, payload: object) {
  return { tenantId: project.tenantId, workspaceId: project.workspaceId, type, subject, payload: { projectId: project.id, ...payload } };
}

/** The routes that follow the live deployment: `live`, and `environment` of production. */
function followsLive(eb: ExpressionBuilder<Database, "routes">, productionEnvironmentId: string | ReturnType<typeof productionEnvironmentOf>) {
  return eb.or([eb("sticky", "=", "live"), eb.and([eb("sticky", "=", "environment"), eb("environment_id", "=", productionEnvironmentId)])]);
}

/** The hostnames that follow the live deployment, read before the lock's answer (so production by subquery). */
function liveRoutesQuery(trx: Transaction<Database>, projectId: string) {
  return trx
    .selectFrom("routes")
    .select(["hostname"])
    .where("project_id", "=", projectId)
    .where((eb) => followsLive(eb, productionEnvironmentOf(trx, projectId)));
}

function productionEnvironmentOf(trx: Transaction<Database>, projectId: string) {
  return trx.selectFrom("environments").select("id").where("project_id", "=", projectId).where("slug", "=", "production");
}
