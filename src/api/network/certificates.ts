import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { currentCertificate, needsOrder, newCertificateRow } from "../../acme/certificateRows.js";
import { challengeFor } from "../../acme/challengeChoice.js";
import type { Certificate } from "../../db/schema.js";
import { GetCertificateResponseSchema, ProvisionCertResponseSchema, type GetCertificateRequest, type ProvisionCertRequest } from "../../gen/ctrl/v1/network_pb.js";
import { idempotentSend, viaIngress } from "../../restate/ingress.js";
import { certificateApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { certificateToProto } from "../certificateToProto.js";
import { findDomain, requireId } from "../tenancy.js";

// ProvisionCert and GetCertificate. The order itself is the Certificate object's
// (workflows/certificate.ts); the API answers at once with the certificate record. Private keys
// never leave the vault: no field of the answer carries one.

export function provisionCert({ db, config, ingress }: ApiDeps) {
  return async (req: ProvisionCertRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const domain = await findDomain(db, principalOf(context).tenantId, req.domainId, { live: true });
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
      const domain = await findDomain(db, tenantId, req.lookup.value, { live: true });
      row = await currentCertificate(db, domain);
      if (!row) throw notFound("certificate of domain", domain.id);
    } else {
      throw invalidArgument("lookup", "set certificate_id or domain_id");
    }
    return create(GetCertificateResponseSchema, { certificate: certificateToProto(row) });
  };
}
