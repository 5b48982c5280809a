import type { Transaction } from "kysely";
import { appendChanges } from "../db/changes.js";
import { appendEvents } from "../db/events.js";
import { newId } from "../db/ids.js";
import type { Database, NetworkRoute } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { isLocalHostname } from "../domain/localHostnames.js";
import { checkRouteFields, checkWeights, type RouteFields } from "../domain/trafficRoutes.js";
import { loadDeploymentTarget, loadProjectDeployment, upsertGatewayConfigs } from "./gatewayConfig.js";
import { lockProject } from "./projectLock.js";

// NetworkService routes: weighted path rules of a project's hostnames. Each change runs in the
// Project object (the project's lock), gets a change-feed version, rewrites the hostname's
// gateway config (its `rules`) in the same transaction and emits RouteChanged.

/** Routes a project may have; more answer ResourceExhausted. */
export const MAX_ROUTES_PER_PROJECT = 200;

export interface AddRouteInput extends RouteFields {
  projectId: string;
  hostname: string;
  /** null: follow the hostname's own deployment. */
  deploymentId: string | null;
  platformApex: string;
}

export interface RouteUpdate extends Partial<RouteFields> {
  routeId: string;
  /** undefined: unchanged; null: follow the hostname's own deployment. */
  deploymentId?: string | null;
  /** 0: no check. */
  expectedVersion: number;
  platformApex: string;
}

type Project = Awaited<ReturnType<typeof lockProject>>;

/** A hostname the project serves: a generated one, or a verified custom domain. */
async function requireHostname(trx: Transaction<Database>, project: Project, hostname: string): Promise<void> {
  const claim = await trx
    .selectFrom("custom_domains")
    .select(["status"])
    .where("project_id", "=", project.id)
    .where("claim_hostname", "=", hostname)
    .executeTakeFirst();
  if (claim && claim.status !== "verified") throw new GateError("failed_precondition", `hostname: custom domain ${hostname} is not verified yet`);
  const route = await trx.selectFrom("routes").select("id").where("project_id", "=", project.id).where("hostname", "=", hostname).executeTakeFirst();
  if (!route) throw new GateError("not_found", `hostname: ${hostname} is not a hostname of project ${project.id}`);
}

async function requireDeployment(trx: Transaction<Database>, project: Project, deploymentId: string | null): Promise<void> {
  if (deploymentId !== null) await loadProjectDeployment(trx, project, deploymentId);
}

/** Weights of the other routes of hostname + path. */
async function otherWeights(trx: Transaction<Database>, hostname: string, path: string, exceptId?: string): Promise<number[]> {
  let query = trx.selectFrom("network_routes").select("weight").where("hostname", "=", hostname).where("path", "=", path);
  if (exceptId) query = query.where("id", "<>", exceptId);
  return (await query.forUpdate().execute()).map((r) => r.weight);
}

/**
 * Rewrites the gateway configs of a project's hostnames from the current state (routes, rules,
 * certificate), under the project's lock; returns the hostnames rewritten.
 */
export async function refreshGatewayConfigs(trx: Transaction<Database>, input: { projectId: string; hostnames: readonly string[]; platformApex: string }): Promise<string[]> {
  const project = await lockProject(trx, input.projectId);
  const refreshed: string[] = [];
  for (const hostname of input.hostnames) {
    const route = await trx.selectFrom("routes").select("project_id").where("hostname", "=", hostname).executeTakeFirst();
    if (route?.project_id !== project.id) continue;
    await refreshGatewayConfig(trx, hostname, input.platformApex);
    refreshed.push(hostname);
  }
  return refreshed;
}

/** Rewrites the gateway config of a hostname so its `rules` match its routes. */
async function refreshGatewayConfig(trx: Transaction<Database>, hostname: string, platformApex: string): Promise<void> {
  if (isLocalHostname(hostname, platformApex)) return;
  const route = await trx.selectFrom("routes").select("deployment_id").where("hostname", "=", hostname).executeTakeFirst();
  if (!route) return;
  await upsertGatewayConfigs(trx, await loadDeploymentTarget(trx, route.deployment_id), [hostname], platformApex);
}

/** The change-feed entry of a route (its new fields, or a deletion); returns its version. */
async function record(trx: Transaction<Database>, project: Project, routeId: string, fields: object | null): Promise<number> {
  const [version] = await appendChanges(trx, [
    { kind: "network_route", resourceKey: routeId, projectId: project.id, deleted: fields === null, ...(fields ? { payload: { id: routeId, ...fields } } : {}) },
  ]);
  return version!;
}

async function changed(trx: Transaction<Database>, project: Project, routeId: string, hostname: string, change: "added" | "updated" | "removed"): Promise<void> {
  await appendEvents(trx, [
    { tenantId: project.tenantId, workspaceId: project.workspaceId, type: "RouteChanged", subject: routeId, payload: { routeId, projectId: project.id, hostname, change } },
  ]);
}

export async function addNetworkRoute(trx: Transaction<Database>, input: AddRouteInput): Promise<NetworkRoute> {
  checkRouteFields(input);
  const project = await lockProject(trx, input.projectId);
  await requireHostname(trx, project, input.hostname);
  await requireDeployment(trx, project, input.deploymentId);
  const count = await trx.selectFrom("network_routes").select((eb) => eb.fn.countAll<number>().as("n")).where("project_id", "=", project.id).executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_ROUTES_PER_PROJECT) throw new GateError("resource_exhausted", `project ${project.id} already has ${MAX_ROUTES_PER_PROJECT} routes`);
  const twin = await trx
    .selectFrom("network_routes")
    .select("id")
    .where("hostname", "=", input.hostname)
    .where("path", "=", input.path)
    .where((eb) => (input.deploymentId === null ? eb("deployment_id", "is", null) : eb("deployment_id", "=", input.deploymentId)))
    .executeTakeFirst();
  if (twin) throw new GateError("already_exists", `route ${twin.id} already sends ${input.hostname}${input.path} to ${input.deploymentId ?? "the hostname's deployment"}`);
  checkWeights(input.hostname, input.path, await otherWeights(trx, input.hostname, input.path), input.weight);

  const id = newId("nrt");
  const row = {
    id,
    workspace_id: project.workspaceId,
    project_id: project.id,
    hostname: input.hostname,
    deployment_id: input.deploymentId,
    path: input.path,
    port: input.port,
    protocol: input.protocol,
    weight: input.weight,
    strip_prefix: input.stripPrefix,
  };
  const version = await record(trx, project, id, row);
  await trx.insertInto("network_routes").values({ ...row, version }).execute();
  await refreshGatewayConfig(trx, input.hostname, input.platformApex);
  await changed(trx, project, id, input.hostname, "added");
  return trx.selectFrom("network_routes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

export async function updateNetworkRoute(trx: Transaction<Database>, update: RouteUpdate): Promise<NetworkRoute> {
  const before = await trx.selectFrom("network_routes").selectAll().where("id", "=", update.routeId).executeTakeFirst();
  if (!before) throw new GateError("not_found", `route ${update.routeId} not found`);
  const project = await lockProject(trx, before.project_id);
  const current = await trx.selectFrom("network_routes").selectAll().where("id", "=", update.routeId).forUpdate().executeTakeFirst();
  if (!current) throw new GateError("not_found", `route ${update.routeId} not found`);
  if (update.expectedVersion !== 0 && Number(current.version) !== update.expectedVersion) {
    throw new GateError("failed_precondition", `expected_version: route ${current.id} is at version ${current.version}, not ${update.expectedVersion}`);
  }
  const next: RouteFields & { deploymentId: string | null } = {
    path: update.path ?? current.path,
    port: update.port ?? current.port,
    protocol: update.protocol ?? (current.protocol as RouteFields["protocol"]),
    weight: update.weight ?? current.weight,
    stripPrefix: update.stripPrefix ?? current.strip_prefix,
    deploymentId: update.deploymentId === undefined ? current.deployment_id : update.deploymentId,
  };
  checkRouteFields(next);
  await requireDeployment(trx, project, next.deploymentId);
  checkWeights(current.hostname, next.path, await otherWeights(trx, current.hostname, next.path, current.id), next.weight);
  const version = await record(trx, project, current.id, { hostname: current.hostname, ...next });
  await trx
    .updateTable("network_routes")
    .set({ path: next.path, port: next.port, protocol: next.protocol, weight: next.weight, strip_prefix: next.stripPrefix, deployment_id: next.deploymentId, version })
    .where("id", "=", current.id)
    .execute();
  await refreshGatewayConfig(trx, current.hostname, update.platformApex);
  await changed(trx, project, current.id, current.hostname, "updated");
  return trx.selectFrom("network_routes").selectAll().where("id", "=", current.id).executeTakeFirstOrThrow();
}

/** Removes a route; returns the change version of the removal. */
export async function removeNetworkRoute(trx: Transaction<Database>, input: { routeId: string; platformApex: string }): Promise<number> {
  const gone = () => new GateError("not_found", `route ${input.routeId} not found`);
  const route = await trx.selectFrom("network_routes").selectAll().where("id", "=", input.routeId).executeTakeFirst();
  if (!route) throw gone();
  const project = await lockProject(trx, route.project_id);
  const deleted = await trx.deleteFrom("network_routes").where("id", "=", route.id).executeTakeFirst();
  if (Number(deleted.numDeletedRows) === 0) throw gone();
  const version = await record(trx, project, route.id, null);
  await refreshGatewayConfig(trx, route.hostname, input.platformApex);
  await changed(trx, project, route.id, route.hostname, "removed");
  return version;
}
