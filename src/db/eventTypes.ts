/** Every event type the outbox carries (WatchEvents and webhooks filter by these). */
export const EVENT_TYPES = [
  "DeploymentReady",
  "DeploymentFailed",
  "DeploymentCancelled",
  "DeploymentPromoted",
  "DeploymentRolledBack",
  "RollbackConfirmed",
  "DeploymentStandby",
  "DomainsAssigned",
  "DomainsSwitched",
  "DomainsDetached",
  "DomainAdded",
  "DomainVerified",
  "DomainRemoved",
  "DomainOwnershipLost",
  "DomainClaimRevoked",
  "RouteChanged",
  "CertProvisioned",
  "CertIssuanceFailed",
  "CertExpiring",
  "BreakingApiChange",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
