import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { type ClusterService, HeartbeatResponseSchema } from "../../gen/ctrl/v1/cluster_pb.js";
import type { ApiDeps } from "../server.js";
import { reportDeploymentStatus } from "./reportDeploymentStatus.js";

/**
 * ClusterService: the agent-facing RPCs. Deployment status reports drive the Deployment
 * workflow; the watch streams arrive with the agents.
 */
export function clusterService(deps: ApiDeps): Partial<ServiceImpl<typeof ClusterService>> {
  return {
    reportDeploymentStatus: reportDeploymentStatus(deps),
    heartbeat: () => create(HeartbeatResponseSchema, { serverTime: timestampNow(), interval: durationFromMs(10_000) }),
  };
}
