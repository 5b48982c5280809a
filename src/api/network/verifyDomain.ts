import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { VerifyDomainResponseSchema, type VerifyDomainRequest } from "../../gen/ctrl/v1/network_pb.js";
import { checkDomainNow } from "../checkDomainNow.js";
import type { ApiDeps } from "../deps.js";
import { domainToProto } from "../domainToProto.js";

/** VerifyDomain: a failed check is not an RPC error: the conditions and diagnoses say what is missing. */
export function verifyDomain(deps: ApiDeps) {
  return async (req: VerifyDomainRequest, context: HandlerContext) => {
    const row = await checkDomainNow(deps, context, req.domainId, req.idempotencyKey);
    return create(VerifyDomainResponseSchema, { domain: domainToProto(row, deps.config) });
  };
}
