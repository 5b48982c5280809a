// Reads a project's routing state straight from MySQL, for assertions.
import type { Kysely } from "kysely";
import type { Database } from "../../src/db/schema.js";

export interface RoutingSnapshot {
  liveDeploymentId: string | null;
  isRolledBack: boolean;
  /** hostname → {deploymentId, sticky} */
  routes: Map<string, { deploymentId: string; sticky: string | null }>;
  /** hostname → deploymentId of its gateway config */
  gatewayConfigs: Map<string, { deploymentId: string; version: number }>;
  /** Event types of the project's tenant, in id order. */
  events: { id: number; type: string; subject: string }[];
}

export async function snapshot(db: Kysely<Database>, projectId: string): Promise<RoutingSnapshot> {
  const project = await db.selectFrom("projects").selectAll().where("id", "=", projectId).executeTakeFirstOrThrow();
  const routes = await db.selectFrom("routes").selectAll().where("project_id", "=", projectId).execute();
  const configs = await db.selectFrom("gateway_configs").selectAll().where("project_id", "=", projectId).execute();
  const events = await db
    .selectFrom("events")
    .select(["id", "type", "subject", "payload"])
    .where("workspace_id", "=", project.workspace_id)
    .orderBy("id")
    .execute();
  return {
    liveDeploymentId: project.live_deployment_id,
    isRolledBack: project.is_rolled_back,
    routes: new Map(routes.map((r) => [r.hostname, { deploymentId: r.deployment_id, sticky: r.sticky }])),
    gatewayConfigs: new Map(configs.map((c) => [c.hostname, { deploymentId: c.deployment_id, version: Number(c.version) }])),
    events: events.map((e) => ({ id: Number(e.id), type: e.type, subject: e.subject })),
  };
}

/** Hostnames of the given sticky levels. */
export function hostnamesAt(state: RoutingSnapshot, ...levels: string[]): string[] {
  return [...state.routes].filter(([, r]) => levels.includes(r.sticky ?? "")).map(([h]) => h).sort();
}

/** gateway-before-route: every route of a served hostname has a gateway config on the same deployment. */
export function assertGatewayBeforeRoute(state: RoutingSnapshot, isLocal: (hostname: string) => boolean = () => false): string[] {
  const problems: string[] = [];
  for (const [hostname, route] of state.routes) {
    if (isLocal(hostname)) {
      if (state.gatewayConfigs.has(hostname)) problems.push(`${hostname} is local but has a gateway config`);
      continue;
    }
    const config = state.gatewayConfigs.get(hostname);
    if (!config) problems.push(`${hostname} → ${route.deploymentId} has no gateway config`);
    else if (config.deploymentId !== route.deploymentId) problems.push(`${hostname}: route → ${route.deploymentId}, config → ${config.deploymentId}`);
  }
  return problems;
}
