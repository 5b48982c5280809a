import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { Database, Route } from "../../db/schema.js";
import { fromJson } from "../../db/schema.js";
import type { StickyLevel as DomainSticky } from "../../domain/generatedHostnames.js";
import { canonicalHostname } from "../../domain/hostname.js";
import { isLocalHostname } from "../../domain/localHostnames.js";
import {
  AssignDomainsResponseSchema,
  AssignFrontlineRoutesResponseSchema,
  FrontlineRouteSchema,
  GetGatewayConfigResponseSchema,
  type RoutingService,
  SwitchDomainsResponseSchema,
  type FrontlineRoute,
} from "../../gen/ctrl/v1/routing_pb.js";
import { StickyLevel } from "../../gen/ctrl/v1/resources_pb.js";
import { gatewayConfigToProto } from "../gatewayConfigToProto.js";
import type { GatewayConfigBody } from "../../routing/gatewayConfig.js";
import { idempotent, viaIngress } from "../../restate/ingress.js";
import { projectApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { scopedKey } from "../idempotency.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, findProject, requireId } from "../tenancy.js";

const STICKY_FROM_PROTO: Record<StickyLevel, DomainSticky> = {
  [StickyLevel.UNSPECIFIED]: "commit",
  [StickyLevel.COMMIT]: "commit",
  [StickyLevel.BRANCH]: "branch",
  [StickyLevel.ENVIRONMENT]: "environment",
  [StickyLevel.LIVE]: "live",
};
const STICKY_TO_PROTO: Record<string, StickyLevel> = { commit: StickyLevel.COMMIT, branch: StickyLevel.BRANCH, environment: StickyLevel.ENVIRONMENT, live: StickyLevel.LIVE };
const MAX_HOSTNAMES = 1000;

/**
 * RoutingService: the seeds' routing operations for other services. Each mutation is validated
 * here, then run by the project's Project object (the one lock per project).
 */
export function routingService(deps: ApiDeps): Partial<ServiceImpl<typeof RoutingService>> {
  const { db, ingress } = deps;

  /** The project and deployment of a routing request, both the caller's, one inside the other. */
  async function scope(context: HandlerContext, projectId: string, deploymentId: string) {
    requireId("project_id", projectId);
    requireId("deployment_id", deploymentId);
    const { tenantId } = principalOf(context);
    const project = await findProject(db, tenantId, projectId);
    const deployment = await findDeployment(db, tenantId, deploymentId);
    if (deployment.project_id !== project.id) throw invalidArgument("deployment_id", `deployment ${deploymentId} is not in project ${projectId}`);
    return project;
  }

  return {
    async assignDomains(req, context) {
      if (req.domains.length === 0) throw invalidArgument("domains", "at least one domain is required");
      if (req.domains.length > MAX_HOSTNAMES) throw invalidArgument("domains", `at most ${MAX_HOSTNAMES} per call`);
      const domains = req.domains.map((d, i) => ({ hostname: hostnameField(`domains[${i}].hostname`, d.hostname), sticky: stickyField(`domains[${i}].sticky`, d.sticky) }));
      const project = await scope(context, req.projectId, req.deploymentId);
      const input = { deploymentId: req.deploymentId, domains };
      const result = await viaIngress(() =>
        ingress.objectClient(projectApi, project.id).assignDomains(input, idempotent(scopedKey(context, "assign-domains", req.idempotencyKey))),
      );
      return create(AssignDomainsResponseSchema, {
        changed: await routesOf(db, "hostname", result.changed, deps.config.platformApex),
        skipped: result.skipped,
        changeVersion: await versionOf(db, result.changed),
      });
    },

    async switchDomains(req, context) {
      const hostnames = listField("hostnames", req.hostnames).map((h, i) => hostnameField(`hostnames[${i}]`, h));
      const project = await scope(context, req.projectId, req.deploymentId);
      const input = { deploymentId: req.deploymentId, hostnames };
      const result = await viaIngress(() =>
        ingress.objectClient(projectApi, project.id).switchDomains(input, idempotent(scopedKey(context, "switch-domains", req.idempotencyKey))),
      );
      return create(SwitchDomainsResponseSchema, {
        switched: await routesOf(db, "hostname", result.switched, deps.config.platformApex),
        changeVersion: await versionOf(db, result.switched),
      });
    },

    async assignFrontlineRoutes(req, context) {
      const routeIds = listField("frontline_route_ids", req.frontlineRouteIds).map((id, i) => requireId(`frontline_route_ids[${i}]`, id));
      const project = await scope(context, req.projectId, req.deploymentId);
      const input = { deploymentId: req.deploymentId, routeIds };
      const result = await viaIngress(() =>
        ingress
          .objectClient(projectApi, project.id)
          .assignFrontlineRoutes(input, idempotent(scopedKey(context, "assign-frontline-routes", req.idempotencyKey))),
      );
      return create(AssignFrontlineRoutesResponseSchema, {
        assigned: await routesOf(db, "id", routeIds, deps.config.platformApex),
        changeVersion: await versionOf(db, result.switched),
      });
    },

    async getGatewayConfig(req, context) {
      const hostname = hostnameField("hostname", req.hostname);
      const row = await db
        .selectFrom("gateway_configs")
        .innerJoin("workspaces", "workspaces.id", "gateway_configs.workspace_id")
        .selectAll("gateway_configs")
        .where("gateway_configs.hostname", "=", hostname)
        .where("workspaces.tenant_id", "=", principalOf(context).tenantId)
        .executeTakeFirst();
      if (!row) throw notFound("gateway config for", hostname);
      const config = gatewayConfigToProto(fromJson<GatewayConfigBody>(row.config), Number(row.version), row.updated_at);
      // The column is authoritative: a deleted certificate clears it (ON DELETE SET NULL).
      config.certificateId = row.certificate_id ?? "";
      return create(GetGatewayConfigResponseSchema, { config });
    },
  };
}

/** A hostname in its stored (A-label) form; IP addresses, in any notation, are refused. */
function hostnameField(field: string, value: string): string {
  const result = canonicalHostname(value);
  if ("problem" in result) throw invalidArgument(field, result.problem);
  return result.ascii;
}

function stickyField(field: string, value: StickyLevel): DomainSticky {
  const sticky = STICKY_FROM_PROTO[value];
  if (!sticky) throw invalidArgument(field, "is not a sticky level (COMMIT, BRANCH, ENVIRONMENT or LIVE)");
  return sticky;
}

function listField(field: string, values: string[]): string[] {
  if (values.length === 0) throw invalidArgument(field, "at least one is required");
  if (values.length > MAX_HOSTNAMES) throw invalidArgument(field, `at most ${MAX_HOSTNAMES} per call`);
  return values;
}

async function routesOf(db: Kysely<Database>, by: "hostname" | "id", keys: string[], apex: string): Promise<FrontlineRoute[]> {
  if (keys.length === 0) return [];
  const rows = await db.selectFrom("routes").selectAll().where(by, "in", keys).orderBy("hostname").execute();
  return rows.map((route: Route) =>
    create(FrontlineRouteSchema, {
      id: route.id,
      hostname: route.hostname,
      workspaceId: route.workspace_id,
      projectId: route.project_id,
      environmentId: route.environment_id ?? "",
      deploymentId: route.deployment_id,
      sticky: STICKY_TO_PROTO[route.sticky ?? "commit"] ?? StickyLevel.COMMIT,
      isLocal: isLocalHostname(route.hostname, apex),
      updateTime: timestampFromDate(route.updated_at),
    }),
  );
}

async function versionOf(db: Kysely<Database>, hostnames: string[]): Promise<bigint> {
  if (hostnames.length === 0) return 0n;
  const row = await db.selectFrom("gateway_configs").select((eb) => eb.fn.max("version").as("v")).where("hostname", "in", hostnames).executeTakeFirst();
  return BigInt(row?.v ?? 0);
}
