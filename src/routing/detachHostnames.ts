import type { Transaction } from "kysely";
import { appendChanges } from "../db/changes.js";
import { appendEvents } from "../db/events.js";
import type { Database } from "../db/schema.js";
import { lockProject } from "./projectLock.js";

/**
 * Stops serving hostnames of a project: their routes, traffic rules and gateway configs go, and every gateway
 * config withdrawn is a versioned tombstone in the change feed, so gateways drop it. Runs inside
 * the caller's transaction (a custom domain that is removed, revoked or taken over loses its
 * routes in the same commit), under the project's row lock like every routing change.
 */
export async function detachHostnames(trx: Transaction<Database>, input: { projectId: string; hostnames: readonly string[]; reason: string }): Promise<string[]> {
  if (input.hostnames.length === 0) return [];
  const project = await lockProject(trx, input.projectId);
  const routes = await trx.selectFrom("routes").select("hostname").where("project_id", "=", project.id).where("hostname", "in", [...input.hostnames]).execute();
  const configs = await trx.selectFrom("gateway_configs").select("hostname").where("project_id", "=", project.id).where("hostname", "in", [...input.hostnames]).execute();
  const detached = [...new Set([...routes, ...configs].map((r) => r.hostname))].sort();
  if (detached.length === 0) return [];
  await trx.deleteFrom("routes").where("project_id", "=", project.id).where("hostname", "in", detached).execute();
  // Their traffic rules go too.
  const rules = await trx.selectFrom("network_routes").select("id").where("project_id", "=", project.id).where("hostname", "in", detached).execute();
  if (rules.length > 0) {
    await trx.deleteFrom("network_routes").where("id", "in", rules.map((r) => r.id)).execute();
    await appendChanges(trx, rules.map((r) => ({ kind: "network_route", resourceKey: r.id, projectId: project.id, deleted: true })));
  }
  if (configs.length > 0) {
    const withdrawn = configs.map((c) => c.hostname).sort();
    await trx.deleteFrom("gateway_configs").where("project_id", "=", project.id).where("hostname", "in", withdrawn).execute();
    await appendChanges(trx, withdrawn.map((hostname) => ({ kind: "gateway_config", resourceKey: hostname, projectId: project.id, deleted: true })));
  }
  await appendEvents(trx, [
    {
      tenantId: project.tenantId,
      workspaceId: project.workspaceId,
      type: "DomainsDetached",
      subject: project.id,
      payload: { projectId: project.id, hostnames: detached, reason: input.reason },
    },
  ]);
  return detached;
}
