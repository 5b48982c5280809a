import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { Database, NetworkRoute } from "../../db/schema.js";
import { canonicalHostname } from "../../domain/hostname.js";
import type { RouteProtocolName } from "../../domain/trafficRoutes.js";
import {
  AddRouteResponseSchema,
  ListRoutesResponseSchema,
  RemoveRouteResponseSchema,
  RouteSchema,
  UpdateRouteResponseSchema,
  type AddRouteRequest,
  type ListRoutesRequest,
  type RemoveRouteRequest,
  type UpdateRouteRequest,
} from "../../gen/ctrl/v1/network_pb.js";
import { RouteProtocol } from "../../gen/ctrl/v1/resources_pb.js";
import { idempotent, viaIngress } from "../../restate/ingress.js";
import { projectApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { scopedKey } from "../idempotency.js";
import { keysetPage } from "../pagination.js";
import type { ApiDeps } from "../deps.js";
import { findProject, requireId } from "../tenancy.js";
import { pageSize } from "../validation.js";

// NetworkService routes. The request's shape is checked here; the rules that depend on the
// project's state (the hostname is the project's, weights, duplicates) are checked by the
// Project object under its lock (src/routing/networkRoutes.ts).

const PROTOCOL_NAME: Partial<Record<RouteProtocol, RouteProtocolName>> = {
  [RouteProtocol.HTTP]: "http",
  [RouteProtocol.HTTPS]: "https",
  [RouteProtocol.GRPC]: "grpc",
  [RouteProtocol.TCP]: "tcp",
};
const PROTOCOL: Record<string, RouteProtocol> = { http: RouteProtocol.HTTP, https: RouteProtocol.HTTPS, grpc: RouteProtocol.GRPC, tcp: RouteProtocol.TCP };

function protocolName(value: RouteProtocol): RouteProtocolName {
  const name = PROTOCOL_NAME[value];
  if (!name) throw invalidArgument("protocol", "is required (http, https, grpc or tcp)");
  return name;
}

/** A generated or custom hostname in its stored (A-label) form; `*.` kept for a wildcard. */
function hostnameField(raw: string): string {
  const wildcard = raw.trim().startsWith("*.");
  const canonical = canonicalHostname(wildcard ? raw.trim().slice(2) : raw);
  if ("problem" in canonical) throw invalidArgument("hostname", canonical.problem);
  return wildcard ? `*.${canonical.ascii}` : canonical.ascii;
}

function routeToProto(row: NetworkRoute) {
  return create(RouteSchema, {
    id: row.id,
    workspaceId: row.workspace_id,
    projectId: row.project_id,
    hostname: row.hostname,
    deploymentId: row.deployment_id ?? "",
    path: row.path,
    port: row.port,
    protocol: PROTOCOL[row.protocol] ?? RouteProtocol.UNSPECIFIED,
    weight: row.weight,
    stripPrefix: row.strip_prefix,
    version: BigInt(row.version),
    // A route that came back through the workflow journal has its dates as strings.
    createTime: timestampFromDate(new Date(row.created_at)),
    updateTime: timestampFromDate(new Date(row.updated_at)),
  });
}

/** A route of the caller's tenant; another tenant's answers like a missing one. */
async function findRoute(db: Kysely<Database>, tenantId: string, routeId: string) {
  return db
    .selectFrom("network_routes as r")
    .innerJoin("workspaces as w", "w.id", "r.workspace_id")
    .selectAll("r")
    .where("r.id", "=", routeId)
    .where("w.tenant_id", "=", tenantId)
    .executeTakeFirst();
}

export function addRoute({ db, ingress }: ApiDeps) {
  return async (req: AddRouteRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    const hostname = hostnameField(req.hostname);
    if (req.deploymentId !== "") requireId("deployment_id", req.deploymentId);
    const protocol = protocolName(req.protocol);
    const project = await findProject(db, principalOf(context).tenantId, req.projectId);
    const input = {
      hostname,
      deploymentId: req.deploymentId === "" ? null : req.deploymentId,
      path: req.path === "" ? "/" : req.path,
      port: req.port,
      protocol,
      weight: req.weight ?? 100,
      stripPrefix: req.stripPrefix,
    };
    const options = idempotent<typeof input, NetworkRoute>(scopedKey(context, "add-route", req.idempotencyKey));
    const route = await viaIngress(() => ingress.objectClient(projectApi, project.id).addRoute(input, options));
    return create(AddRouteResponseSchema, { route: routeToProto(route) });
  };
}

export function updateRoute({ db, ingress }: ApiDeps) {
  return async (req: UpdateRouteRequest, context: HandlerContext) => {
    requireId("route_id", req.routeId);
    const fields = [req.deploymentId, req.path, req.port, req.protocol, req.weight, req.stripPrefix];
    if (fields.every((f) => f === undefined)) throw invalidArgument("route_id", "nothing to update: set at least one of deployment_id, path, port, protocol, weight, strip_prefix");
    if (req.deploymentId) requireId("deployment_id", req.deploymentId);
    const route = await findRoute(db, principalOf(context).tenantId, req.routeId);
    if (!route) throw notFound("route", req.routeId);
    const update = {
      routeId: route.id,
      ...(req.deploymentId !== undefined ? { deploymentId: req.deploymentId === "" ? null : req.deploymentId } : {}),
      ...(req.path !== undefined ? { path: req.path } : {}),
      ...(req.port !== undefined ? { port: req.port } : {}),
      ...(req.protocol !== undefined ? { protocol: protocolName(req.protocol) } : {}),
      ...(req.weight !== undefined ? { weight: req.weight } : {}),
      ...(req.stripPrefix !== undefined ? { stripPrefix: req.stripPrefix } : {}),
      expectedVersion: Number(req.expectedVersion),
    };
    const options = idempotent<typeof update, NetworkRoute>(scopedKey(context, "update-route", req.idempotencyKey));
    const updated = await viaIngress(() => ingress.objectClient(projectApi, route.project_id).updateRoute(update, options));
    return create(UpdateRouteResponseSchema, { route: routeToProto(updated) });
  };
}

/** The project of a route that was removed (from its change-feed entries), if it is the tenant's. */
async function projectOfRemovedRoute(db: Kysely<Database>, tenantId: string, routeId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("changes as c")
    .innerJoin("projects as p", "p.id", "c.project_id")
    .innerJoin("workspaces as w", "w.id", "p.workspace_id")
    .select("p.id")
    .where("c.kind", "=", "network_route")
    .where("c.resource_key", "=", routeId)
    .where("w.tenant_id", "=", tenantId)
    .executeTakeFirst();
  return row?.id;
}

export function removeRoute({ db, ingress }: ApiDeps) {
  return async (req: RemoveRouteRequest, context: HandlerContext) => {
    requireId("route_id", req.routeId);
    const { tenantId } = principalOf(context);
    const route = await findRoute(db, tenantId, req.routeId);
    // A route that is gone can only be a retry (same idempotency key) of its removal, which the
    // ingress answers from its record; without a key it is NotFound.
    const projectId = route?.project_id ?? (req.idempotencyKey !== "" ? await projectOfRemovedRoute(db, tenantId, req.routeId) : undefined);
    if (!projectId) throw notFound("route", req.routeId);
    const options = idempotent<{ routeId: string }, { version: number }>(scopedKey(context, "remove-route", req.idempotencyKey));
    const result = await viaIngress(() => ingress.objectClient(projectApi, projectId).removeRoute({ routeId: req.routeId }, options));
    return create(RemoveRouteResponseSchema, { changeVersion: BigInt(result.version) });
  };
}

export function listRoutes({ db, config }: ApiDeps) {
  return async (req: ListRoutesRequest, context: HandlerContext) => {
    requireId("project_id", req.projectId);
    pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findProject(db, tenantId, req.projectId);
    const hostname = req.hostname === "" ? undefined : hostnameField(req.hostname);
    if (req.deploymentId !== "") requireId("deployment_id", req.deploymentId);
    const filters = { rpc: "ListRoutes", tenantId, projectId: req.projectId, hostname, deploymentId: req.deploymentId };
    let query = db.selectFrom("network_routes").selectAll().where("project_id", "=", req.projectId);
    if (hostname) query = query.where("hostname", "=", hostname);
    if (req.deploymentId !== "") query = query.where("deployment_id", "=", req.deploymentId);
    const page = await keysetPage(query, { config, pageToken: req.pageToken, pageSize: req.pageSize, filters }, [
      { column: "hostname", order: "asc", type: "string", value: (row) => row.hostname },
      { column: "path", order: "asc", type: "string", value: (row) => row.path },
      { column: "id", order: "asc", type: "string", value: (row) => row.id },
    ]);
    return create(ListRoutesResponseSchema, { routes: page.rows.map(routeToProto), nextPageToken: page.nextPageToken });
  };
}
