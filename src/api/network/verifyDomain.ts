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
import type { CustomDomain } from "../../db/schema.js";
import { domainToProto } from "./domainToProto.js";

/**
 * Checks a domain of the caller's tenant now: its own object runs the check (so a check never
 * overlaps a scheduled one) and restarts its backoff. Returns the row as that check left it.
 */
export async function checkDomainNow({ db, ingress }: ApiDeps, context: HandlerContext, domainId: string, idempotencyKey: string): Promise<CustomDomain> {
  requireId("domain_id", domainId);
  const { tenantId } = principalOf(context);
  const find = () => db.selectFrom("custom_domains").selectAll().where("id", "=", domainId).where("tenant_id", "=", tenantId).where("status", "<>", "removed").executeTakeFirst();
  if (!(await find())) throw notFound("domain", domainId);
  const options = idempotent<{ diagnose: boolean }, DomainCheckResult>(scopedKey(context, "verify-domain", idempotencyKey));
  await viaIngress(() => ingress.objectClient(domainApi, domainId).verify({ diagnose: true }, options));
  const row = await find();
  if (!row) throw notFound("domain", domainId);
  return row;
}

/** VerifyDomain: a failed check is not an RPC error: the conditions and diagnoses say what is missing. */
export function verifyDomain(deps: ApiDeps) {
  return async (req: VerifyDomainRequest, context: HandlerContext) => {
    const row = await checkDomainNow(deps, context, req.domainId, req.idempotencyKey);
    return create(VerifyDomainResponseSchema, { domain: domainToProto(row, deps.config) });
  };
}
