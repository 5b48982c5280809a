import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import { CtrlService } from "../gen/ctrl/v1/ctrl_pb.js";
import { agentKey, principalKey } from "./auth.js";

// Who may call what, after authentication: ClusterService is for region agents and gateways
// only (their credentials span every tenant, so a tenant token must never reach it — it could
// otherwise choose upstream addresses), and a region credential reaches nothing of the tenant
// API. CtrlService (liveness, version) concerns no tenant and answers both.

const AGENT_SERVICES = new Set([ClusterService.typeName]);
const SHARED_SERVICES = new Set([CtrlService.typeName]);

export function agentAccessInterceptor(): Interceptor {
  return (next) => async (req) => {
    const service = req.service.typeName;
    if (SHARED_SERVICES.has(service)) return next(req);
    const agent = req.contextValues.get(agentKey);
    if (AGENT_SERVICES.has(service)) {
      if (!agent) {
        throw new ConnectError(`${req.service.name} is for region agents and gateways: call it with a region credential (SWITCHYARD_AGENT_TOKENS), not a tenant token`, Code.PermissionDenied);
      }
    } else if (agent && !req.contextValues.get(principalKey)) {
      throw new ConnectError(`a region credential (region "${agent.region}") may call only ${ClusterService.name}`, Code.PermissionDenied);
    }
    return next(req);
  };
}
