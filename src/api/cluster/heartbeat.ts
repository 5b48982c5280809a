import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { HeartbeatResponseSchema, type HeartbeatRequest, type HeartbeatResponse } from "../../gen/ctrl/v1/cluster_pb.js";
import { HEARTBEAT_INTERVAL_MS, recordHeartbeat } from "../../cluster/heartbeats.js";
import type { ApiDeps } from "../deps.js";
import { invalidArgument } from "../errors.js";
import { agentRegion } from "./region.js";

const PROCESS_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PROCESS_VERSION = /^[\x21-\x7e]{0,64}$/;

/**
 * Heartbeat: an agent or gateway of the region says it is alive and how far it has applied its
 * feeds. Recorded (src/cluster/heartbeats.ts) for the region's gauges; the answer tells it when
 * to call again.
 */
export function heartbeat(deps: ApiDeps) {
  return async (req: HeartbeatRequest, context: HandlerContext): Promise<HeartbeatResponse> => {
    const region = agentRegion(deps, context, req.region);
    if (!PROCESS_ID.test(req.agentId)) throw invalidArgument("agent_id", "must be 1-128 characters of [A-Za-z0-9._:-]");
    if (!PROCESS_VERSION.test(req.agentVersion)) throw invalidArgument("agent_version", "must be at most 64 printable ASCII characters without spaces");
    await recordHeartbeat(deps.db, {
      region,
      processId: req.agentId,
      processVersion: req.agentVersion,
      deploymentsVersion: Number(req.deploymentsVersion),
      gatewayConfigsVersion: Number(req.gatewayConfigsVersion),
    });
    return create(HeartbeatResponseSchema, { serverTime: timestampNow(), interval: durationFromMs(HEARTBEAT_INTERVAL_MS) });
  };
}
