import type { Interceptor } from "@connectrpc/connect";
import { failRpcIfRequested } from "../faults.js";

/** Innermost: SWITCHYARD_FAULT_RPC_ERROR makes one RPC fail as a bug would (src/faults.ts). */
export function faultInterceptor(): Interceptor {
  return (next) => async (req) => {
    failRpcIfRequested(`${req.service.typeName}/${req.method.name}`);
    return next(req);
  };
}
