import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { type ClusterService, HeartbeatResponseSchema } from "../../gen/ctrl/v1/cluster_pb.js";
import type { ApiDeps } from "../server.js";
import { invalidArgument } from "../errors.js";
import { reportDeploymentStatus } from "./reportDeploymentStatus.js";
import { getDesiredDeploymentState, watchDeployments, watchGatewayConfigs } from "./watch.js";

/** How often agents should call Heartbeat. */
const HEARTBEAT_INTERVAL_MS = 10_000;

/**
 * ClusterService: the agent-facing RPCs. Status reports drive the Deployment workflow; the
 * watch streams carry the versioned desired state to agents and gateways.
 */
export function clusterService(deps: ApiDeps): Partial<ServiceImpl<typeof ClusterService>> {
  return {
    reportDeploymentStatus: reportDeploymentStatus(deps),
    watchDeployments: watchDeployments(deps),
    getDesiredDeploymentState: getDesiredDeploymentState(deps),
    watchGatewayConfigs: watchGatewayConfigs(deps),
    heartbeat: (req) => {
      if (!deps.config.regions.includes(req.region)) throw invalidArgument("region", `unknown region "${req.region.slice(0, 64)}"`);
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(req.agentId)) throw invalidArgument("agent_id", "must be 1-128 characters of [A-Za-z0-9._:-]");
      return create(HeartbeatResponseSchema, { serverTime: timestampNow(), interval: durationFromMs(HEARTBEAT_INTERVAL_MS) });
    },
  };
}
