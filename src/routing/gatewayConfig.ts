import type { Transaction } from "kysely";
import { changeReservation } from "../db/changes.js";
import { reserve, type Reservation } from "../db/sequences.js";
import { selectTogether } from "../db/batch.js";
import { toJson, type Database, type NetworkRoute } from "../db/schema.js";
import { GateError, type GateDeployment } from "../domain/gates.js";
import { isLocalHostname } from "../domain/localHostnames.js";

/** What a gateway needs to serve one hostname; the body of a `gateway_config` change. */
export interface GatewayConfigBody {
  hostname: string;
  workspaceId: string;
  projectId: string;
  deploymentId: string;
  /** Port the application listens on inside its instances. */
  port: number | null;
  /** Running instances of the deployment, per region. */
  upstreams: { region: string; address: string }[];
  certificateId: string | null;
  /** Weighted path rules (NetworkService routes), longest path first; absent when none. */
  rules?: TrafficRuleBody[];
}

export interface TrafficRuleBody {
  routeId: string;
  path: string;
  deploymentId: string;
  port: number;
  protocol: string;
  weight: number;
  stripPrefix: boolean;
  upstreams: { region: string; address: string }[];
}

/** A deployment as routing needs it: what the gates check and what its gateway configs carry. */
export interface DeploymentTarget extends GateDeployment {
  workspaceId: string;
  port: number | null;
  upstreams: { region: string; address: string }[];
  /** Some region's agent is not meant to run it (standby or stopped): live traffic must not point at it yet. */
  inStandby: boolean;
}

/**
 * Loads a deployment with its running upstreams in one query (a row per running instance, at
 * least one); NotFound when it is missing.
 */
export async function loadDeploymentTarget(trx: Transaction<Database>, deploymentId: string): Promise<DeploymentTarget> {
  return deploymentTargetOf(await deploymentTargetQuery(trx, deploymentId).execute(), deploymentId);
}

/** loadDeploymentTarget's query, to send in one round trip with others (src/db/batch.ts). */
export function deploymentTargetQuery(trx: Transaction<Database>, deploymentId: string) {
  return trx
    .selectFrom("deployments as d")
    .leftJoin("instances as i", (join) => join.onRef("i.deployment_id", "=", "d.id").on("i.status", "=", "running"))
    .select((eb) => [
      "d.id",
      "d.workspace_id",
      "d.project_id",
      "d.environment_id",
      "d.status",
      "d.port",
      "i.region",
      "i.address",
      eb
        .exists(eb.selectFrom("deployment_topology as t").select("t.region").whereRef("t.deployment_id", "=", "d.id").where("t.desired_status", "<>", "running"))
        .as("in_standby"),
    ])
    .where("d.id", "=", deploymentId)
    .orderBy("i.region")
    .orderBy("i.id");
}

/** The target from deploymentTargetQuery's rows; NotFound when there are none. */
export function deploymentTargetOf(rows: Awaited<ReturnType<ReturnType<typeof deploymentTargetQuery>["execute"]>>, deploymentId: string): DeploymentTarget {
  const deployment = rows[0];
  if (!deployment) throw new GateError("not_found", `deployment ${deploymentId} not found`);
  return {
    id: deployment.id,
    workspaceId: deployment.workspace_id,
    projectId: deployment.project_id,
    environmentId: deployment.environment_id,
    status: deployment.status,
    port: deployment.port,
    upstreams: rows.flatMap((i) => (i.region !== null && i.address ? [{ region: i.region, address: i.address }] : [])),
    inStandby: Boolean(Number(deployment.in_standby)),
  };
}

/**
 * A deployment of `project`: InvalidArgument when it is another project's of the same tenant,
 * and exactly the missing deployment's NotFound when it is another tenant's (nothing leaks).
 */
export async function loadProjectDeployment(
  trx: Transaction<Database>,
  project: { id: string; tenantId: string },
  deploymentId: string,
  field = "deployment_id",
): Promise<DeploymentTarget> {
  const target = await loadDeploymentTarget(trx, deploymentId);
  if (target.projectId === project.id) return target;
  const sameTenant = await trx.selectFrom("workspaces").select("id").where("id", "=", target.workspaceId).where("tenant_id", "=", project.tenantId).executeTakeFirst();
  if (!sameTenant) throw new GateError("not_found", `deployment ${deploymentId} not found`);
  throw new GateError("invalid_argument", `${field}: deployment ${deploymentId} is not in project ${project.id}`);
}

/**
 * Points the gateway configs of `hostnames` at `target` (one bulk upsert) and appends one
 * versioned change per config. Local hostnames get no config (local-domains-filtered). Returns the
 * hostnames written and the last version. Call it in the same transaction that moves the routes of
 * those hostnames (gateway-before-route: the commit makes both visible at once), late in the
 * transaction: it takes the change-feed lock until commit.
 */
export async function upsertGatewayConfigs(
  trx: Transaction<Database>,
  target: DeploymentTarget,
  hostnames: readonly string[],
  platformApex: string,
): Promise<{ hostnames: string[]; lastVersion: number }> {
  const writes = await gatewayConfigWrites(trx, target, hostnames, platformApex);
  if (!writes.reservation) return { hostnames: [], lastVersion: 0 };
  const [first] = await reserve(trx, [writes.reservation]);
  return { hostnames: writes.hostnames, lastVersion: first! + writes.reservation.count - 1 };
}

/**
 * upsertGatewayConfigs without the writing: the configs are read and built, and returned as the
 * feed reservation that writes them (their changes, and the configs with their versions), for a
 * caller that sends it in one round trip with its outbox events (sequences.ts: reserve).
 */
export async function gatewayConfigWrites(
  trx: Transaction<Database>,
  target: DeploymentTarget,
  hostnames: readonly string[],
  platformApex: string,
): Promise<{ hostnames: string[]; reservation?: Reservation }> {
  const served = [...new Set(hostnames)].filter((hostname) => !isLocalHostname(hostname, platformApex)).sort();
  if (served.length === 0) return { hostnames: [] };
  // The certificates and the project's path rules in one round trip.
  const [certificates, networkRoutes] = await selectTogether(trx, [
    trx.selectFrom("certificates").select(["id", "hostname"]).where("hostname", "in", served).where("status", "=", "issued"),
    trx.selectFrom("network_routes").selectAll().where("project_id", "=", target.projectId),
  ]);
  const certificateOf = new Map(certificates.map((c) => [c.hostname, c.id]));
  const rulesOf = await trafficRules(trx, target, served, networkRoutes);
  const bodies: GatewayConfigBody[] = served.map((hostname) => ({
    hostname,
    workspaceId: target.workspaceId,
    projectId: target.projectId,
    deploymentId: target.id,
    port: target.port,
    upstreams: target.upstreams,
    certificateId: certificateOf.get(hostname) ?? null,
    ...(rulesOf.has(hostname) ? { rules: rulesOf.get(hostname)! } : {}),
  }));
  // The configs go with their changes, in the round trip of the counter bump.
  const reservation = changeReservation(
    trx,
    bodies.map((body) => ({ kind: "gateway_config", resourceKey: body.hostname, projectId: body.projectId, payload: body })),
    (versionAt) => [
      trx
        .insertInto("gateway_configs")
        .values(
          bodies.map((body, i) => ({
            hostname: body.hostname,
            workspace_id: body.workspaceId,
            project_id: body.projectId,
            deployment_id: body.deploymentId,
            config: toJson(body),
            certificate_id: body.certificateId,
            version: versionAt(i),
          })),
        )
        .onDuplicateKeyUpdate((eb) => ({
          deployment_id: eb.fn("values", [eb.ref("deployment_id")]),
          config: eb.fn("values", [eb.ref("config")]),
          certificate_id: eb.fn("values", [eb.ref("certificate_id")]),
          version: eb.fn("values", [eb.ref("version")]),
        })),
    ],
  );
  return { hostnames: served, reservation };
}

/**
 * The NetworkService routes of `hostnames` (from the project's routes, plus one query for the
 * instances of the deployments they name), by hostname, longest path first. A route without a
 * deployment follows the hostname's own.
 */
async function trafficRules(trx: Transaction<Database>, target: DeploymentTarget, hostnames: readonly string[], projectRoutes: readonly NetworkRoute[]): Promise<Map<string, TrafficRuleBody[]>> {
  const wanted = new Set(hostnames);
  const routes = projectRoutes.filter((r) => wanted.has(r.hostname));
  const rules = new Map<string, TrafficRuleBody[]>();
  if (routes.length === 0) return rules;
  const others = [...new Set(routes.map((r) => r.deployment_id).filter((id): id is string => id !== null && id !== target.id))];
  const upstreamsOf = new Map<string, { region: string; address: string }[]>([[target.id, target.upstreams]]);
  if (others.length > 0) {
    const instances = await trx
      .selectFrom("instances")
      .select(["deployment_id", "region", "address"])
      .where("deployment_id", "in", others)
      .where("status", "=", "running")
      .orderBy("region")
      .orderBy("id")
      .execute();
    for (const id of others) upstreamsOf.set(id, []);
    for (const i of instances) if (i.address) upstreamsOf.get(i.deployment_id)!.push({ region: i.region, address: i.address });
  }
  for (const route of routes) {
    const deploymentId = route.deployment_id ?? target.id;
    const list = rules.get(route.hostname) ?? [];
    list.push({
      routeId: route.id,
      path: route.path,
      deploymentId,
      port: route.port,
      protocol: route.protocol,
      weight: route.weight,
      stripPrefix: route.strip_prefix,
      upstreams: upstreamsOf.get(deploymentId) ?? [],
    });
    rules.set(route.hostname, list);
  }
  for (const list of rules.values()) list.sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path) || a.routeId.localeCompare(b.routeId));
  return rules;
}
