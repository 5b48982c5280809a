// The observed state of a custom domain as conditions, each True, False or Unknown
// with a reason and a message. A new claim starts with every DNS-based condition Unknown (not
// checked yet); TLSReady is False until a certificate is issued; Ready aggregates them.

export type ConditionType = "OwnershipVerified" | "CNAMEConfigured" | "ACMEChallengeDelegationReady" | "TLSReady" | "TargetReady" | "Ready";
export type ConditionState = "True" | "False" | "Unknown";

export interface DomainCondition {
  type: ConditionType;
  status: ConditionState;
  reason: string;
  message: string;
  /** ISO 8601: when `status` last changed. */
  lastTransitionTime: string;
  /** ISO 8601: when the condition was last evaluated; absent until the first check. */
  lastObservationTime?: string;
}

export const CONDITION_ORDER: readonly ConditionType[] = ["OwnershipVerified", "CNAMEConfigured", "ACMEChallengeDelegationReady", "TLSReady", "TargetReady", "Ready"];

/** The conditions of a claim that was just added. */
export function initialConditions(opts: { tls: boolean; now: Date }): DomainCondition[] {
  const at = opts.now.toISOString();
  const unchecked = (type: ConditionType): DomainCondition => ({
    type,
    status: "Unknown",
    reason: "NotCheckedYet",
    message: "the DNS records have not been checked yet",
    lastTransitionTime: at,
  });
  return [
    unchecked("OwnershipVerified"),
    unchecked("CNAMEConfigured"),
    unchecked("ACMEChallengeDelegationReady"),
    opts.tls
      ? { type: "TLSReady", status: "False", reason: "CertificateNotIssued", message: "no certificate has been issued for this hostname yet", lastTransitionTime: at }
      : { type: "TLSReady", status: "False", reason: "TLSDisabled", message: "TLS is disabled for this domain (served over HTTP only)", lastTransitionTime: at },
    unchecked("TargetReady"),
    { type: "Ready", status: "False", reason: "OwnershipNotVerified", message: "ownership of the hostname is not proven yet", lastTransitionTime: at },
  ];
}
