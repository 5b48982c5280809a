import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { CustomDomain } from "../db/schema.js";
import { fromJson } from "../db/schema.js";
import { customDomainName } from "../customDomains/name.js";
import type { DomainCondition } from "../customDomains/conditions.js";
import { requiredRecords, type RecordPurpose, type RecordType } from "../customDomains/records.js";
import { DnsRecordPurpose, DnsRecordSchema, DnsRecordType, DomainSchema, DomainStatus, type Domain } from "../gen/ctrl/v1/network_pb.js";
import { ConditionSchema, ConditionStatus, DiagnosisSchema } from "../gen/ctrl/v1/resources_pb.js";

const STATUS: Record<CustomDomain["status"], DomainStatus> = {
  pending: DomainStatus.PENDING,
  verified: DomainStatus.VERIFIED,
  revoked: DomainStatus.REVOKED,
  removed: DomainStatus.REMOVED,
};
const RECORD_TYPE: Record<RecordType, DnsRecordType> = { A: DnsRecordType.A, AAAA: DnsRecordType.AAAA, CNAME: DnsRecordType.CNAME, TXT: DnsRecordType.TXT };
const PURPOSE: Record<RecordPurpose, DnsRecordPurpose> = {
  verification: DnsRecordPurpose.VERIFICATION,
  routing: DnsRecordPurpose.ROUTING,
  acme_delegation: DnsRecordPurpose.ACME_DELEGATION,
};
const CONDITION_STATUS = { True: ConditionStatus.TRUE, False: ConditionStatus.FALSE, Unknown: ConditionStatus.UNKNOWN } as const;

export interface DomainView {
  platformApex: string;
  apexAddresses: readonly string[];
}

export function domainToProto(row: CustomDomain, view: DomainView): Domain {
  const name = customDomainName(row.hostname, { wildcard: row.wildcard, platformApex: view.platformApex });
  // Stored names passed the same check when they were added; the records follow from them.
  const records =
    "problem" in name ? [] : requiredRecords({ name, tenantId: row.tenant_id, verificationToken: row.verification_token, platformApex: view.platformApex, apexAddresses: view.apexAddresses });
  const conditions = fromJson<DomainCondition[]>(row.conditions);
  return create(DomainSchema, {
    id: row.id,
    hostname: row.hostname,
    unicodeHostname: row.unicode_hostname,
    workspaceId: row.workspace_id,
    projectId: row.project_id,
    environmentId: row.environment_id ?? "",
    wildcard: row.wildcard,
    tls: row.tls,
    status: STATUS[row.status],
    verified: row.status === "verified",
    verifyTime: row.verified_at ? timestampFromDate(row.verified_at) : undefined,
    requiredRecords: records.map((r) => create(DnsRecordSchema, { type: RECORD_TYPE[r.type], name: r.name, value: r.value, purpose: PURPOSE[r.purpose], required: r.required })),
    conditions: conditions.map((c) =>
      create(ConditionSchema, {
        type: c.type,
        status: CONDITION_STATUS[c.status],
        reason: c.reason,
        message: c.message,
        lastTransitionTime: timestampFromDate(new Date(c.lastTransitionTime)),
        lastObservationTime: c.lastObservationTime ? timestampFromDate(new Date(c.lastObservationTime)) : undefined,
      }),
    ),
    diagnoses: fromJson<{ problem: string; fix: string }[]>(row.diagnoses).map((d) => create(DiagnosisSchema, d)),
    nextCheckTime: row.next_check_at ? timestampFromDate(row.next_check_at) : undefined,
    createTime: timestampFromDate(row.created_at),
    updateTime: timestampFromDate(row.updated_at),
  });
}
