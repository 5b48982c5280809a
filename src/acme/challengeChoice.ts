import type { Config } from "../config.js";
import { fromJson, type CustomDomain } from "../db/schema.js";
import type { DomainCondition } from "../customDomains/conditions.js";
import { expectationsOf } from "../customDomains/ownershipChecks.js";

// Which ACME challenge an order uses. DNS-01 through the customer's `_acme-challenge` CNAME
// delegation proves control before any traffic moves (the certificate is ready before the main
// CNAME is flipped) and is the only way to a wildcard; HTTP-01 needs the hostname to reach us.

export type ChallengeChoice = { type: "dns-01"; dnsName: string } | { type: "http-01" } | { problem: string };

export function chooseChallenge(domain: {
  wildcard: boolean;
  conditions: readonly DomainCondition[];
  delegationName: string;
  delegationTarget: string | undefined;
  /** Whether this platform answers its challenge zone (SWITCHYARD_CHALLENGE_DNS_LISTEN). */
  challengeZoneServed: boolean;
}): ChallengeChoice {
  const delegated = domain.conditions.some((c) => c.type === "ACMEChallengeDelegationReady" && c.status === "True");
  if (domain.challengeZoneServed && delegated && domain.delegationTarget) return { type: "dns-01", dnsName: domain.delegationTarget };
  if (!domain.wildcard) return { type: "http-01" };
  if (!domain.challengeZoneServed) return { problem: "a wildcard certificate needs DNS-01, and this platform does not serve its ACME challenge zone (SWITCHYARD_CHALLENGE_DNS_LISTEN is unset)" };
  if (!domain.delegationTarget) return { problem: `a wildcard certificate needs DNS-01 through ${domain.delegationName}, and the hostname is too long for that delegation` };
  return { problem: `a wildcard certificate needs DNS-01: create CNAME ${domain.delegationName} → ${domain.delegationTarget} and call VerifyDomain` };
}

/** The challenge for a stored domain, from its conditions as last checked. */
export function challengeFor(domain: CustomDomain, config: Config): ChallengeChoice {
  const expected = expectationsOf(domain, config);
  return chooseChallenge({
    wildcard: domain.wildcard,
    conditions: fromJson<DomainCondition[]>(domain.conditions),
    delegationName: expected.delegationName,
    delegationTarget: expected.delegationTarget,
    challengeZoneServed: config.challengeDnsListen !== undefined,
  });
}
