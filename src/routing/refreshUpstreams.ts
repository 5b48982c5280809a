import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { loadDeploymentTarget, upsertGatewayConfigs } from "./gatewayConfig.js";

/**
 * A report changed a deployment's running addresses: every gateway config that sends traffic to
 * it — the hostnames pointing at it and those whose path rules name it — is rewritten with the
 * current upstreams and a new change-feed version, in the report's transaction, so gateways see
 * the new addresses as a change in the feed. The configs are read with a locking read: a swap
 * that moves a hostname away commits either before (the hostname is no longer ours to rewrite)
 * or after (it overwrites this rewrite), never under it.
 */
export async function refreshUpstreams(trx: Transaction<Database>, deploymentId: string, platformApex: string): Promise<number> {
  const viaRules = await trx.selectFrom("network_routes").select("hostname").where("deployment_id", "=", deploymentId).execute();
  let query = trx.selectFrom("gateway_configs").select(["hostname", "deployment_id"]);
  const ruleHostnames = [...new Set(viaRules.map((r) => r.hostname))];
  query = ruleHostnames.length > 0 ? query.where((eb) => eb.or([eb("deployment_id", "=", deploymentId), eb("hostname", "in", ruleHostnames)])) : query.where("deployment_id", "=", deploymentId);
  const configs = await query.orderBy("hostname").forUpdate().execute();
  const byDeployment = new Map<string, string[]>();
  for (const config of configs) byDeployment.set(config.deployment_id, [...(byDeployment.get(config.deployment_id) ?? []), config.hostname]);
  let lastVersion = 0;
  for (const [id, hostnames] of [...byDeployment].sort(([a], [b]) => a.localeCompare(b))) {
    const target = await loadDeploymentTarget(trx, id);
    lastVersion = Math.max(lastVersion, (await upsertGatewayConfigs(trx, target, hostnames, platformApex)).lastVersion);
  }
  return lastVersion;
}
