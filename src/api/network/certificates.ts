import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { currentCertificate, needsOrder, newCertificateRow } from "../../acme/certificateRows.js";
import { challengeFor } from "../../acme/challengeChoice.js";
import type { Certificate, Database } from "../../db/schema.js";
import { GetCertificateResponseSchema, ProvisionCertResponseSchema, type GetCertificateRequest, type ProvisionCertRequest } from "../../gen/ctrl/v1/network_pb.js";
import { CertificateSchema, CertificateStatus } from "../../gen/ctrl/v1/resources_pb.js";
import { idempotentSend, viaIngress } from "../../restate/ingress.js";
import { certificateApi } from "../../../workflows/certificate.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../server.js";
import { requireId } from "../tenancy.js";

// ProvisionCert and GetCertificate. The order itself is the Certificate object's
// (workflows/certificate.ts); the API answers at once with the certificate record. Private keys
// never leave the vault: no field of the answer carries one.

const STATUS: Record<string, CertificateStatus> = {
  pending: CertificateStatus.PENDING,
  issued: CertificateStatus.ACTIVE,
  failed: CertificateStatus.FAILED,
  superseded: CertificateStatus.REVOKED,
};

export function certificateToProto(row: Certificate) {
  const expired = row.status === "issued" && row.not_after !== null && row.not_after < new Date();
  return create(CertificateSchema, {
    id: row.id,
    hostname: row.hostname,
    domainId: row.custom_domain_id ?? "",
    status: expired ? CertificateStatus.EXPIRED : (STATUS[row.status] ?? CertificateStatus.UNSPECIFIED),
    pemChain: row.pem_chain ?? "",
    notBefore: row.not_before ? timestampFromDate(row.not_before) : undefined,
    notAfter: row.not_after ? timestampFromDate(row.not_after) : undefined,
    renewAt: row.renew_at ? timestampFromDate(row.renew_at) : undefined,
    autoRenew: row.auto_renew,
    issuer: row.issuer ?? "",
    lastError: row.last_error ?? "",
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  });
}

/** The tenant's domain, not removed; another tenant's answers like a missing one. */
async function findLiveDomain(db: Kysely<Database>, tenantId: string, domainId: string) {
  const row = await db.selectFrom("custom_domains").selectAll().where("id", "=", domainId).where("tenant_id", "=", tenantId).where("status", "<>", "removed").executeTakeFirst();
  if (!row) throw notFound("domain", domainId);
  return row;
}

export function provisionCert({ db, config, ingress }: ApiDeps) {
  return async (req: ProvisionCertRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const domain = await findLiveDomain(db, principalOf(context).tenantId, req.domainId);
    if (!domain.tls) throw new ConnectError(`domain ${domain.hostname} is HTTP-only (tls is false)`, Code.FailedPrecondition);
    if (domain.status !== "verified") throw new ConnectError(`ownership of ${domain.hostname} is not proven yet: publish the records of GetDomain and call VerifyDomain`, Code.FailedPrecondition);
    const challenge = challengeFor(domain, config);
    if ("problem" in challenge) throw new ConnectError(challenge.problem, Code.FailedPrecondition);
    if (config.masterKeys.length === 0) throw new ConnectError("certificates need SWITCHYARD_MASTER_KEYS to encrypt their keys; it is not configured", Code.FailedPrecondition);

    const current = await currentCertificate(db, domain);
    // An attempt under way is returned; so is a valid certificate unless `force` asks for a new one.
    // A failed attempt waiting for its retry is replaced by a new attempt now.
    if (current && (current.status === "pending" || (current.status === "issued" && !req.force && !needsOrder(current)))) {
      return create(ProvisionCertResponseSchema, { certificate: certificateToProto(current) });
    }
    const id = await newCertificateRow(db, domain);
    try {
      await viaIngress(() => ingress.objectSendClient(certificateApi, domain.hostname).issue({ domainId: domain.id, certificateId: id }, idempotentSend(`certificate-issue/${id}`)));
    } catch (error) {
      await db.deleteFrom("certificates").where("id", "=", id).execute();
      throw error;
    }
    const row = await db.selectFrom("certificates").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    return create(ProvisionCertResponseSchema, { certificate: certificateToProto(row) });
  };
}

export function getCertificate({ db }: ApiDeps) {
  return async (req: GetCertificateRequest, context: HandlerContext) => {
    const { tenantId } = principalOf(context);
    let row: Certificate | undefined;
    if (req.lookup.case === "certificateId") {
      requireId("certificate_id", req.lookup.value);
      row = await db
        .selectFrom("certificates as c")
        .innerJoin("workspaces as w", "w.id", "c.workspace_id")
        .selectAll("c")
        .where("c.id", "=", req.lookup.value)
        .where("w.tenant_id", "=", tenantId)
        .executeTakeFirst();
      if (!row) throw notFound("certificate", req.lookup.value);
    } else if (req.lookup.case === "domainId") {
      requireId("domain_id", req.lookup.value);
      const domain = await findLiveDomain(db, tenantId, req.lookup.value);
      row = await currentCertificate(db, domain);
      if (!row) throw notFound("certificate of domain", domain.id);
    } else {
      throw invalidArgument("lookup", "set certificate_id or domain_id");
    }
    return create(GetCertificateResponseSchema, { certificate: certificateToProto(row) });
  };
}
