import type { HandlerContext } from "@connectrpc/connect";
import type { CustomDomain } from "../db/schema.js";
import { idempotent, viaIngress } from "../restate/ingress.js";
import type { DomainCheckResult } from "../../workflows/domain.js";
import { domainApi } from "../../workflows/handles.js";
import { principalOf } from "./auth.js";
import type { ApiDeps } from "./deps.js";
import { scopedKey } from "./idempotency.js";
import { findDomain, requireId } from "./tenancy.js";

/**
 * Checks a domain of the caller's tenant now: its own object runs the check (so a check never
 * overlaps a scheduled one) and restarts its backoff. Returns the row as that check left it.
 * Shared by VerifyDomain and the ACME service's ValidateDomain.
 */
export async function checkDomainNow({ db, ingress }: ApiDeps, context: HandlerContext, domainId: string, idempotencyKey: string): Promise<CustomDomain> {
  requireId("domain_id", domainId);
  const { tenantId } = principalOf(context);
  await findDomain(db, tenantId, domainId, { live: true });
  const options = idempotent<{ diagnose: boolean }, DomainCheckResult>(scopedKey(context, "verify-domain", idempotencyKey));
  await viaIngress(() => ingress.objectClient(domainApi, domainId).verify({ diagnose: true }, options));
  return findDomain(db, tenantId, domainId, { live: true });
}
