import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { agentOf } from "../auth.js";
import { invalidArgument } from "../errors.js";
import type { ApiDeps } from "../deps.js";

/**
 * The region an agent-facing RPC acts on: a configured one (InvalidArgument otherwise), and the
 * calling agent's own (PermissionDenied otherwise) — a region credential sees every tenant, but
 * only of its region.
 */
export function agentRegion(deps: ApiDeps, context: HandlerContext, region: string): string {
  if (region === "") throw invalidArgument("region", "is required");
  if (!deps.config.regions.includes(region)) {
    throw invalidArgument("region", `unknown region "${region.slice(0, 64)}"; known: ${deps.config.regions.join(", ")}`);
  }
  const agent = agentOf(context);
  if (!agent) throw new ConnectError("missing region credentials", Code.PermissionDenied);
  if (agent.region !== region) {
    throw new ConnectError(`this credential is for region "${agent.region}", not "${region}"`, Code.PermissionDenied);
  }
  return region;
}
