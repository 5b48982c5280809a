import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { CustomDomainName } from "./name.js";

// The DNS records a customer creates for a custom domain. Every value is bound to the
// tenant that claims the name, so a record published for one tenant never proves anything for
// another: the TXT token is random per claim, the CNAME and delegation targets carry a digest of
// (tenant, hostname).

export const VERIFICATION_LABEL = "_switchyard-challenge";
export const ACME_CHALLENGE_LABEL = "_acme-challenge";

export type RecordType = "A" | "AAAA" | "CNAME" | "TXT";
export type RecordPurpose = "verification" | "routing" | "acme_delegation";

export interface RequiredRecord {
  type: RecordType;
  /** Owner name, no trailing dot. */
  name: string;
  value: string;
  purpose: RecordPurpose;
  required: boolean;
}

/** 20 base-32 characters of SHA-256(tenant, hostname): unguessable without both, stable for both. */
export function claimDigest(tenantId: string, baseHostname: string): string {
  const digest = createHash("sha256").update(`${tenantId}\n${baseHostname}`).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 13)) bits = (bits << 8n) | BigInt(byte);
  return bits.toString(32).padStart(21, "0").slice(-20);
}

/** The CNAME target of a hostname for a tenant: `<digest>.cname.<apex>`. */
export function cnameTarget(tenantId: string, baseHostname: string, platformApex: string): string {
  return `${claimDigest(tenantId, baseHostname)}.cname.${platformApex}`;
}

/** The zone switchyard answers DNS-01 challenges in (its authoritative server, SWITCHYARD_CHALLENGE_DNS_LISTEN). */
export function challengeZoneOf(platformApex: string): string {
  return `acme.${platformApex}`;
}

/**
 * Where `_acme-challenge.<hostname>` is delegated: the challenge name with every label kept
 * verbatim, then the tenant digest, under the platform's challenge zone. Undefined when that
 * name would exceed DNS's 253 characters (the delegation is then not offered).
 */
export function acmeDelegationTarget(tenantId: string, baseHostname: string, platformApex: string): string | undefined {
  const target = `${ACME_CHALLENGE_LABEL}.${baseHostname}.${claimDigest(tenantId, baseHostname)}.${challengeZoneOf(platformApex)}`;
  return target.length <= 253 ? target : undefined;
}

export function verificationValue(token: string): string {
  return `switchyard-verification=${token}`;
}

export interface RecordsInput {
  name: CustomDomainName;
  tenantId: string;
  verificationToken: string;
  platformApex: string;
  /** Addresses an apex hostname points at (A and AAAA records). */
  apexAddresses: readonly string[];
}

/** Records to create, in the order a customer should create them. */
export function requiredRecords({ name, tenantId, verificationToken, platformApex, apexAddresses }: RecordsInput): RequiredRecord[] {
  const base = name.baseHostname;
  const records: RequiredRecord[] = [
    { type: "TXT", name: `${VERIFICATION_LABEL}.${base}`, value: verificationValue(verificationToken), purpose: "verification", required: true },
  ];
  if (name.apex) {
    for (const address of apexAddresses) {
      records.push({ type: isIP(address) === 6 ? "AAAA" : "A", name: base, value: address, purpose: "routing", required: true });
    }
  } else {
    records.push({ type: "CNAME", name: name.hostname, value: cnameTarget(tenantId, base, platformApex), purpose: "routing", required: true });
  }
  const delegation = acmeDelegationTarget(tenantId, base, platformApex);
  if (delegation) {
    // Required for a wildcard: its certificate can only be issued through DNS-01.
    records.push({ type: "CNAME", name: `${ACME_CHALLENGE_LABEL}.${base}`, value: delegation, purpose: "acme_delegation", required: name.wildcard });
  }
  return records;
}
