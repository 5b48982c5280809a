import type { Transaction } from "kysely";
import { appendEvents } from "../db/events.js";
import { newId } from "../db/ids.js";
import type { Database } from "../db/schema.js";
import type { StickyLevel } from "../domain/generatedHostnames.js";
import { GateError } from "../domain/gates.js";
import { loadDeploymentTarget, loadProjectDeployment, upsertGatewayConfigs } from "./gatewayConfig.js";
import { judgeOwnership, reclaimHostnames, requireOwned } from "./hostnameOwnership.js";
import { lockProject } from "./projectLock.js";

/** Statuses in which a deployment's instances run and its gateway configs can point at it. */
export const SERVING = ["network", "finalizing", "ready"];

export interface DomainAssignment {
  hostname: string;
  sticky: StickyLevel;
}

export interface AssignDomainsInput {
  projectId: string;
  deploymentId: string;
  domains: DomainAssignment[];
  platformApex: string;
}

export interface AssignDomainsResult {
  /** Hostnames created or moved to the deployment. */
  changed: string[];
  /** Hostnames left where they are, with the reason. */
  skipped: { hostname: string; reason: string }[];
  /** Where each changed hostname pointed before (null: created now); compensation uses it. */
  previous: { hostname: string; deploymentId: string | null }[];
}

/**
 * AssignDomains: find or create each hostname and point it at the deployment. Routes and gateway
 * configs are written in one transaction, so no reader ever sees one without the other
 * (gateway-before-route, docs/invariants.md).
 *
 * Only hostnames the project owns (hostnameOwnership.ts) are assigned; any other refuses the
 * whole call. An owned hostname another project still routes is taken back from it first.
 *
 * Live traffic moves only together with the live pointer (atomic-swap): hostnames at the `live`
 * level, and the production environment's hostname, are never moved here. While the project has
 * a live deployment a missing one is created on it; otherwise it waits for the first promotion.
 * That also leaves live routes alone while the project is rolled back.
 */
export async function assignDomains(trx: Transaction<Database>, input: AssignDomainsInput): Promise<AssignDomainsResult> {
  const project = await lockProject(trx, input.projectId);
  const deployment = await loadProjectDeployment(trx, project, input.deploymentId);
  if (!SERVING.includes(deployment.status)) {
    throw new GateError("failed_precondition", `deployment ${deployment.id} is ${deployment.status}; only a serving deployment (network, finalizing, ready) gets hostnames`);
  }
  const isProduction = deployment.environmentId === project.productionEnvironmentId;
  const hostnames = [...new Set(input.domains.map((d) => d.hostname))];
  const fieldOf = (hostname: string) => `domains[${input.domains.findIndex((d) => d.hostname === hostname)}].hostname`;
  const ownership = await judgeOwnership(trx, { project, deploymentId: deployment.id, hostnames, platformApex: input.platformApex, fieldOf });
  requireOwned(ownership, hostnames);
  const owned = hostnames.filter((h) => ownership.get(h)?.kind === "owned");
  await reclaimHostnames(trx, project.id, owned);
  const existing = owned.length ? await trx.selectFrom("routes").selectAll().where("hostname", "in", owned).execute() : [];
  const existingByHost = new Map(existing.map((route) => [route.hostname, route]));

  const skipped: AssignDomainsResult["skipped"] = [];
  const toDeployment: DomainAssignment[] = [];
  const toLive: DomainAssignment[] = [];
  for (const domain of dedupe(input.domains)) {
    const verdict = ownership.get(domain.hostname);
    if (verdict?.kind === "skipped") {
      skipped.push({ hostname: domain.hostname, reason: verdict.reason });
      continue;
    }
    const route = existingByHost.get(domain.hostname);
    const followsLive = domain.sticky === "live" || (domain.sticky === "environment" && isProduction);
    if (followsLive) {
      if (route) skipped.push({ hostname: domain.hostname, reason: project.isRolledBack ? "project is rolled back" : "moves only with the live deployment" });
      else if (project.liveDeploymentId) toLive.push(domain);
      else skipped.push({ hostname: domain.hostname, reason: "no live deployment yet" });
      continue;
    }
    if (route?.deployment_id === deployment.id) continue;
    toDeployment.push(domain);
  }

  const changed: string[] = [];
  for (const [targetId, group] of [
    [deployment.id, toDeployment],
    [project.liveDeploymentId, toLive],
  ] as const) {
    if (!targetId || group.length === 0) continue;
    const target = targetId === deployment.id ? deployment : await loadDeploymentTarget(trx, targetId);
    await upsertGatewayConfigs(trx, target, group.map((d) => d.hostname), input.platformApex);
    await upsertRoutes(trx, project, target.id, deployment.environmentId, group);
    changed.push(...group.map((d) => d.hostname));
  }
  if (changed.length > 0) {
    await appendEvents(trx, [
      {
        tenantId: project.tenantId,
        workspaceId: project.workspaceId,
        type: "DomainsAssigned",
        subject: deployment.id,
        payload: { projectId: project.id, deploymentId: deployment.id, hostnames: changed },
      },
    ]);
  }
  const previous = changed.map((hostname) => ({ hostname, deploymentId: existingByHost.get(hostname)?.deployment_id ?? null }));
  return { changed, skipped, previous };
}

async function upsertRoutes(
  trx: Transaction<Database>,
  project: { id: string; workspaceId: string },
  deploymentId: string,
  environmentId: string,
  domains: DomainAssignment[],
) {
  await trx
    .insertInto("routes")
    .values(
      domains.map((d) => ({
        id: newId("rte"),
        hostname: d.hostname,
        workspace_id: project.workspaceId,
        project_id: project.id,
        environment_id: environmentId,
        deployment_id: deploymentId,
        sticky: d.sticky,
      })),
    )
    .onDuplicateKeyUpdate((eb) => ({ deployment_id: eb.fn("values", [eb.ref("deployment_id")]) }))
    .execute();
}

function dedupe(domains: DomainAssignment[]): DomainAssignment[] {
  const seen = new Map<string, DomainAssignment>();
  for (const domain of domains) seen.set(domain.hostname, domain);
  return [...seen.values()];
}
