import type { ServiceImpl } from "@connectrpc/connect";
import type { ClusterService } from "../../gen/ctrl/v1/cluster_pb.js";
import { DeploymentSpecs } from "../../cluster/deploymentSpecs.js";
import type { ApiDeps } from "../deps.js";
import { heartbeat } from "./heartbeat.js";
import { reportDeploymentStatus } from "./reportDeploymentStatus.js";
import { getGatewayCertificate } from "./getGatewayCertificate.js";
import { Vault } from "../../vault/vault.js";
import { getDesiredDeploymentState, watchDeployments, watchGatewayConfigs } from "./watch.js";

/**
 * ClusterService: the agent-facing RPCs, callable only with a region credential
 * (src/api/agentAccess.ts) and only for that region (./region.ts). Status reports drive the
 * Deployment workflow; the watch streams carry the versioned desired state to agents and gateways.
 */
export function clusterService(deps: ApiDeps): Partial<ServiceImpl<typeof ClusterService>> {
  const specs = new DeploymentSpecs(deps.db);
  const vault = deps.config.masterKeys.length > 0 ? new Vault(deps.config.masterKeys) : undefined;
  return {
    reportDeploymentStatus: reportDeploymentStatus(deps),
    watchDeployments: watchDeployments(deps, specs),
    getDesiredDeploymentState: getDesiredDeploymentState(deps),
    watchGatewayConfigs: watchGatewayConfigs(deps),
    getGatewayCertificate: getGatewayCertificate(deps, vault),
    heartbeat: heartbeat(deps),
  };
}
