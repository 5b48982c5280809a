import type { Transaction } from "kysely";
import { appendChanges } from "../db/changes.js";
import { appendEvents } from "../db/events.js";
import type { Database } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { SERVING } from "./assignDomains.js";
import { loadDeploymentTarget, loadProjectDeployment, upsertGatewayConfigs } from "./gatewayConfig.js";
import { judgeOwnership, requireOwned } from "./hostnameOwnership.js";
import { lockProject } from "./projectLock.js";

export interface SwitchDomainsInput {
  projectId: string;
  deploymentId: string;
  /** Existing hostnames (SwitchDomains) … */
  hostnames?: string[];
  /** … or existing route ids (AssignFrontlineRoutes). */
  routeIds?: string[];
  platformApex: string;
}

export interface SwitchDomainsResult {
  switched: string[];
}

/**
 * SwitchDomains / AssignFrontlineRoutes: points existing routes of the project at another
 * deployment, routes and gateway configs in one transaction (gateway-before-route). Routes
 * that follow the live deployment are refused: they move only with the live pointer (Promote,
 * Rollback), never on their own.
 */
export async function switchDomains(trx: Transaction<Database>, input: SwitchDomainsInput): Promise<SwitchDomainsResult> {
  const project = await lockProject(trx, input.projectId);
  const deployment = await loadProjectDeployment(trx, project, input.deploymentId);
  if (!SERVING.includes(deployment.status)) {
    throw new GateError("failed_precondition", `deployment ${deployment.id} is ${deployment.status}; routes can only point at a deployment that is serving`);
  }
  const byHostname = input.hostnames !== undefined;
  const keys = [...new Set(byHostname ? input.hostnames! : input.routeIds ?? [])];
  if (keys.length === 0) return { switched: [] };
  const routes = await trx
    .selectFrom("routes")
    .selectAll()
    .where(byHostname ? "hostname" : "id", "in", keys)
    .where("project_id", "=", project.id)
    .execute();
  const found = new Set(routes.map((r) => (byHostname ? r.hostname : r.id)));
  const missing = keys.filter((key) => !found.has(key));
  if (missing.length > 0) {
    throw new GateError("not_found", `${byHostname ? "hostnames" : "routes"} not found in project ${project.id}: ${missing.join(", ")}`);
  }
  // A route of the project for a hostname it no longer owns (data from before the ownership
  // rules, or a claim lost since) is not moved anywhere.
  const fieldOf = (hostname: string) => {
    const route = routes.find((r) => r.hostname === hostname)!;
    return byHostname ? `hostnames[${keys.indexOf(hostname)}]` : `frontline_route_ids[${keys.indexOf(route.id)}]`;
  };
  const ownership = await judgeOwnership(trx, { project, deploymentId: deployment.id, hostnames: routes.map((r) => r.hostname), platformApex: input.platformApex, fieldOf });
  requireOwned(ownership, routes.map((r) => r.hostname));
  const followsLive = routes.filter(
    (r) => r.sticky === "live" || (r.sticky === "environment" && r.environment_id === project.productionEnvironmentId),
  );
  if (followsLive.length > 0) {
    throw new GateError(
      "failed_precondition",
      `${followsLive.map((r) => r.hostname).join(", ")} follow the live deployment; use Promote or Rollback to move them`,
    );
  }
  const hostnames = routes.filter((r) => r.deployment_id !== deployment.id).map((r) => r.hostname).sort();
  if (hostnames.length === 0) return { switched: [] };
  await trx.updateTable("routes").set({ deployment_id: deployment.id }).where("hostname", "in", hostnames).execute();
  await upsertGatewayConfigs(trx, deployment, hostnames, input.platformApex);
  await appendEvents(trx, [
    {
      tenantId: project.tenantId,
      workspaceId: project.workspaceId,
      type: "DomainsSwitched",
      subject: deployment.id,
      payload: { projectId: project.id, deploymentId: deployment.id, hostnames },
    },
  ]);
  return { switched: hostnames };
}

export interface RevertAssignmentInput {
  projectId: string;
  deploymentId: string;
  /** Where each hostname pointed before the deployment took it (null = it was created for it). */
  previous: { hostname: string; deploymentId: string | null }[];
  platformApex: string;
}

/**
 * Compensation of AssignDomains when a deploy fails later: hostnames that still point at the
 * failed deployment go back where they were, and the ones created for it are deleted with their
 * gateway configs.
 */
export async function revertAssignment(trx: Transaction<Database>, input: RevertAssignmentInput): Promise<{ reverted: string[] }> {
  await lockProject(trx, input.projectId);
  const hostnames = input.previous.map((p) => p.hostname);
  if (hostnames.length === 0) return { reverted: [] };
  const still = await trx
    .selectFrom("routes")
    .select("hostname")
    .where("hostname", "in", hostnames)
    .where("deployment_id", "=", input.deploymentId)
    .execute();
  const stillSet = new Set(still.map((r) => r.hostname));
  const reverted = input.previous.filter((p) => stillSet.has(p.hostname));
  const toDelete = reverted.filter((p) => p.deploymentId === null).map((p) => p.hostname);
  const byTarget = new Map<string, string[]>();
  for (const p of reverted) if (p.deploymentId) byTarget.set(p.deploymentId, [...(byTarget.get(p.deploymentId) ?? []), p.hostname]);
  for (const [targetId, group] of byTarget) {
    await trx.updateTable("routes").set({ deployment_id: targetId }).where("hostname", "in", group).execute();
    await upsertGatewayConfigs(trx, await loadDeploymentTarget(trx, targetId), group, input.platformApex);
  }
  if (toDelete.length > 0) {
    await trx.deleteFrom("routes").where("hostname", "in", toDelete).execute();
    const deleted = await trx.selectFrom("gateway_configs").select("hostname").where("hostname", "in", toDelete).execute();
    if (deleted.length > 0) {
      await trx.deleteFrom("gateway_configs").where("hostname", "in", toDelete).execute();
      await appendChanges(
        trx,
        deleted.map((d) => ({ kind: "gateway_config", resourceKey: d.hostname, projectId: input.projectId, deleted: true })),
      );
    }
  }
  return { reverted: reverted.map((p) => p.hostname) };
}
