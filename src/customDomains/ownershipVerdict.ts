import type { CaaRecord, Lookup } from "../dns/dnsProbe.js";
import type { ConditionState, ConditionType, DomainCondition } from "./conditions.js";

// One ownership check of a custom domain, as pure logic: what DNS said (and whether a valid
// certificate exists) goes in, the new conditions and the diagnoses come out. Any one proof
// suffices: the TXT token, the main CNAME to our target, the _acme-challenge CNAME to
// our delegation target, or a valid certificate. An undecidable lookup (timeout, SERVFAIL) is
// Unknown and never turns a True condition False.

export type Proof = "txt" | "cname" | "delegation" | "certificate";

export interface Expected {
  hostname: string;
  baseHostname: string;
  apex: boolean;
  tls: boolean;
  verificationName: string;
  verificationValue: string;
  cnameTarget: string;
  delegationName: string;
  delegationTarget: string | undefined;
  apexAddresses: readonly string[];
  /** Issuer domains of the configured CA as CAA records name it, e.g. "letsencrypt.org". */
  caaIdentities: readonly string[];
  wildcard: boolean;
}

export interface Observation {
  verificationTxt: Lookup<string>;
  /** TXT records on the hostname itself: where a misplaced token shows up. */
  hostnameTxt: Lookup<string>;
  mainCname: Lookup<string>;
  addresses: Lookup<string>;
  delegationCname: Lookup<string>;
  /** TXT at _acme-challenge.<host> when it has no CNAME: leftovers of another provider's issuance. */
  delegationTxt: Lookup<string>;
  certificateValid: boolean;
  target: { ready: boolean; message: string };
  /** The CAA set that applies (RFC 8659: the closest name up the tree that has one); absent for HTTP-only domains. */
  caa?: { name: string; records: CaaRecord[] };
}

export interface Diagnosis {
  problem: string;
  fix: string;
}

export interface CheckResult {
  /** The proofs found, best first (txt, delegation, cname, certificate). */
  proofs: Proof[];
  ownership: ConditionState;
  conditions: DomainCondition[];
  diagnoses: Diagnosis[];
}

interface Verdict {
  status: ConditionState;
  reason: string;
  message: string;
}

const found = (lookup: Lookup<string>) => (lookup.kind === "found" ? lookup.values : []);
const describeFound = (lookup: Lookup<string>) =>
  lookup.kind === "found" ? lookup.values.join(", ") : lookup.kind === "absent" ? "nothing" : `no answer (${lookup.reason})`;

function matchVerdict(lookup: Lookup<string>, ok: boolean, yes: Verdict, no: Verdict): Verdict {
  if (ok) return yes;
  if (lookup.kind === "unknown") return { status: "Unknown", reason: "DNSLookupFailed", message: `could not look it up: ${lookup.reason}` };
  return no;
}

/** The verdict on a CNAME the customer was asked to create (`reasonPrefix`Configured / WrongTarget / NotConfigured). */
function cnameVerdict(lookup: Lookup<string>, ok: boolean, name: string, target: string, reasonPrefix: "CNAME" | "Delegation"): Verdict {
  return matchVerdict(
    lookup,
    ok,
    { status: "True", reason: `${reasonPrefix}Configured`, message: `${name} is a CNAME to ${target}` },
    {
      status: "False",
      reason: lookup.kind === "found" ? `${reasonPrefix}WrongTarget` : `${reasonPrefix}NotConfigured`,
      message: `expected CNAME ${name} → ${target}, found ${describeFound(lookup)}`,
    },
  );
}

/** Evaluates one check; `previous` are the stored conditions, whose True ones survive Unknown. */
export function evaluateOwnership(expected: Expected, seen: Observation, previous: readonly DomainCondition[], now: Date): CheckResult {
  const txtOk = found(seen.verificationTxt).includes(expected.verificationValue);
  const cnameOk = !expected.apex && found(seen.mainCname).includes(expected.cnameTarget);
  const addressesOk = expected.apex && expected.apexAddresses.length > 0 && expected.apexAddresses.every((a) => found(seen.addresses).includes(a));
  const delegationOk = expected.delegationTarget !== undefined && found(seen.delegationCname).includes(expected.delegationTarget);
  const proofs: Proof[] = [
    ...(txtOk ? (["txt"] as const) : []),
    ...(delegationOk ? (["delegation"] as const) : []),
    ...(cnameOk ? (["cname"] as const) : []),
    ...(seen.certificateValid ? (["certificate"] as const) : []),
  ];

  const anyUnknown = [seen.verificationTxt, seen.delegationCname, ...(expected.apex ? [] : [seen.mainCname])].some((l) => l.kind === "unknown");
  const ownership: Verdict =
    proofs.length > 0
      ? { status: "True", reason: `ProvenBy${proofs[0]![0]!.toUpperCase()}${proofs[0]!.slice(1)}`, message: `ownership proven by ${proofs.join(", ")}` }
      : anyUnknown
        ? { status: "Unknown", reason: "DNSLookupFailed", message: "some DNS lookups got no answer; nothing proves ownership yet" }
        : {
            status: "False",
            reason: "NoProof",
            message: `create TXT ${expected.verificationName} with value "${expected.verificationValue}" (found ${describeFound(seen.verificationTxt)})`,
          };

  const routing: Verdict = expected.apex
    ? matchVerdict(
        seen.addresses,
        addressesOk,
        { status: "True", reason: "AddressesConfigured", message: `${expected.hostname} points at ${expected.apexAddresses.join(", ")}` },
        { status: "False", reason: "AddressesNotConfigured", message: `expected A/AAAA ${expected.apexAddresses.join(", ")}, found ${describeFound(seen.addresses)}` },
      )
    : cnameVerdict(seen.mainCname, cnameOk, expected.hostname, expected.cnameTarget, "CNAME");

  const delegation: Verdict =
    expected.delegationTarget === undefined
      ? { status: "False", reason: "DelegationUnavailable", message: "the hostname is too long for an _acme-challenge delegation" }
      : cnameVerdict(seen.delegationCname, delegationOk, expected.delegationName, expected.delegationTarget, "Delegation");

  const previousOf = (type: ConditionType) => previous.find((c) => c.type === type);
  const tls = previousOf("TLSReady") ?? { type: "TLSReady", status: "False", reason: "CertificateNotIssued", message: "no certificate has been issued for this hostname yet", lastTransitionTime: now.toISOString() };
  const target: Verdict = seen.target.ready
    ? { status: "True", reason: "DeploymentReady", message: seen.target.message }
    : { status: "False", reason: "NoReadyDeployment", message: seen.target.message };

  const merged = (type: ConditionType, verdict: Verdict) => mergeCondition(previousOf(type), type, verdict, now);
  const conditions = [
    merged("OwnershipVerified", ownership),
    merged("CNAMEConfigured", routing),
    merged("ACMEChallengeDelegationReady", delegation),
    tls,
    merged("TargetReady", target),
  ];
  const blocking = conditions.find((c) => c.status !== "True" && (c.type === "OwnershipVerified" || c.type === "TargetReady" || (c.type === "TLSReady" && expected.tls)));
  conditions.push(
    merged(
      "Ready",
      blocking
        ? { status: "False", reason: `${blocking.type}Not${blocking.status === "Unknown" ? "Known" : "True"}`, message: `${blocking.type}: ${blocking.message}` }
        : { status: "True", reason: "Serving", message: `${expected.hostname} is ready to be served` },
    ),
  );

  return { proofs, ownership: conditions[0]!.status, conditions, diagnoses: diagnose(expected, seen, proofs) };
}

/** Keeps a True condition through an Unknown observation; moves lastTransitionTime only on a change. */
function mergeCondition(previous: DomainCondition | undefined, type: ConditionType, verdict: Verdict, now: Date): DomainCondition {
  const at = now.toISOString();
  if (previous && verdict.status === "Unknown" && previous.status === "True") return { ...previous, lastObservationTime: at };
  const transition = previous && previous.status === verdict.status ? previous.lastTransitionTime : at;
  return { type, ...verdict, lastTransitionTime: transition, lastObservationTime: at };
}

/** Concrete problems with their fixes, for a domain whose checks do not all pass. */
function diagnose(expected: Expected, seen: Observation, proofs: readonly Proof[]): Diagnosis[] {
  const diagnoses: Diagnosis[] = [];
  if (!proofs.includes("txt") && found(seen.hostnameTxt).includes(expected.verificationValue)) {
    diagnoses.push({
      problem: `the verification TXT record is on ${expected.hostname} instead of ${expected.verificationName}`,
      fix: `move the TXT record "${expected.verificationValue}" to ${expected.verificationName}`,
    });
  }
  const mainTargets = found(seen.mainCname);
  if (!expected.apex && mainTargets.length > 0 && !mainTargets.includes(expected.cnameTarget)) {
    diagnoses.push({
      problem: `${expected.hostname} is a CNAME to ${mainTargets.join(", ")}, not to ${expected.cnameTarget}`,
      fix: `change the CNAME of ${expected.hostname} to ${expected.cnameTarget}`,
    });
  }
  const delegationTargets = found(seen.delegationCname);
  if (expected.delegationTarget && delegationTargets.length > 0 && !delegationTargets.includes(expected.delegationTarget)) {
    const want = expected.delegationTarget;
    const got = delegationTargets[0]!;
    const suffix = want.slice(want.indexOf(".", `_acme-challenge.${expected.baseHostname}`.length));
    const problem = got.startsWith(`${want}.`)
      ? `${expected.delegationName} points at ${got}: your DNS provider appended the zone name`
      : got.endsWith(suffix) && got.split(".").length < want.split(".").length
        ? `${expected.delegationName} points at ${got}, which lost labels of the hostname (expected ${want})`
        : `${expected.delegationName} points at ${got}, not at ${want}`;
    diagnoses.push({ problem, fix: `set the CNAME of ${expected.delegationName} to ${want}${got.startsWith(`${want}.`) ? " (enter it with a trailing dot)" : ""}` });
  }
  const leftovers = found(seen.delegationTxt);
  if (seen.delegationCname.kind === "absent" && leftovers.length > 0) {
    diagnoses.push({
      problem: `${expected.delegationName} has ${leftovers.length} TXT record(s) and no CNAME; they conflict with certificate issuance through Switchyard`,
      fix: `delete the TXT records at ${expected.delegationName} and create CNAME ${expected.delegationName} → ${expected.delegationTarget ?? "(unavailable)"}`,
    });
  }
  if (expected.tls && seen.caa) {
    // A wildcard certificate is governed by issuewild when the set has any, else by issue.
    const wild = seen.caa.records.filter((r) => r.tag === "issuewild");
    const governing = expected.wildcard && wild.length > 0 ? wild : seen.caa.records.filter((r) => r.tag === "issue");
    const issuers = governing.map((r) => r.value.split(";")[0]!.trim().toLowerCase());
    if (governing.length > 0 && !issuers.some((issuer) => expected.caaIdentities.includes(issuer))) {
      const tag = governing[0]!.tag;
      diagnoses.push({
        problem: `the CAA records at ${seen.caa.name} allow only ${issuers.map((i) => i || "no CA").join(", ")} to issue certificates, not ${expected.caaIdentities.join(" or ")}`,
        fix: `add the CAA record ${seen.caa.name} CAA 0 ${tag} "${expected.caaIdentities[0]}"`,
      });
    }
  }
  if (proofs.length === 0 && seen.verificationTxt.kind === "found") {
    diagnoses.push({
      problem: `${expected.verificationName} has TXT ${describeFound(seen.verificationTxt)}, not this claim's token`,
      fix: `set the TXT record of ${expected.verificationName} to "${expected.verificationValue}"`,
    });
  }
  return diagnoses;
}
