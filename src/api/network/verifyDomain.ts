import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { VerifyDomainResponseSchema, type VerifyDomainRequest } from "../../gen/ctrl/v1/network_pb.js";
import { idempotent, viaIngress } from "../../restate/ingress.js";
import { domainApi, type DomainCheckResult } from "../../../workflows/domain.js";
import { principalOf } from "../auth.js";
import { notFound } from "../errors.js";
import { scopedKey } from "../idempotency.js";
import type { ApiDeps } from "../server.js";
import { requireId } from "../tenancy.js";
import { domainToProto } from "./domainToProto.js";

/**
 * VerifyDomain: the domain's own object checks it now (so a check never overlaps a scheduled
 * one) and restarts its backoff; the answer is the domain as that check left it. A failed check
 * is not an RPC error: the conditions and diagnoses say what is missing.
 */
export function verifyDomain({ db, config, ingress }: ApiDeps) {
  return async (req: VerifyDomainRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const { tenantId } = principalOf(context);
    const find = () =>
      db
        .selectFrom("custom_domains")
        .selectAll()
        .where("id", "=", req.domainId)
        .where("tenant_id", "=", tenantId)
        .where("status", "<>", "removed")
        .executeTakeFirst();
    if (!(await find())) throw notFound("domain", req.domainId);
    const options = idempotent<{ diagnose: boolean }, DomainCheckResult>(scopedKey(context, "verify-domain", req.idempotencyKey));
    await viaIngress(() => ingress.objectClient(domainApi, req.domainId).verify({ diagnose: true }, options));
    const row = await find();
    if (!row) throw notFound("domain", req.domainId);
    return create(VerifyDomainResponseSchema, { domain: domainToProto(row, config) });
  };
}
