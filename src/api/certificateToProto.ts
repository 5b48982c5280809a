import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Certificate } from "../db/schema.js";
import { CertificateSchema, CertificateStatus } from "../gen/ctrl/v1/resources_pb.js";

// A certificate row as the API shows it (NetworkService and AcmeService). Private keys never
// leave the vault: no field carries one.

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
