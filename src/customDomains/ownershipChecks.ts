import type { Kysely, Transaction } from "kysely";
import type { Config } from "../config.js";
import { appendEvents, type NewEvent } from "../db/events.js";
import { fromJson, toJson, type CustomDomain, type CustomDomainStatus, type Database } from "../db/schema.js";
import { parse } from "tldts";
import type { CaaRecord, DnsProbe } from "../dns/dnsProbe.js";
import { customDomainName } from "./name.js";
import type { DomainCondition } from "./conditions.js";
import { ACME_CHALLENGE_LABEL, acmeDelegationTarget, VERIFICATION_LABEL, verificationValue } from "./records.js";
import { evaluateOwnership, type CheckResult, type Expected, type Observation } from "./ownershipVerdict.js";
import { GateError } from "../domain/gates.js";
import { reserveCheckSlot } from "./checkSlots.js";

// One ownership check of a custom domain, in two halves so that no row stays locked while DNS
// answers: observeDomain does the lookups (no transaction), applyDomainCheck then decides under
// the domain's row lock. Used by the Domain object (workflows/domain.ts) for VerifyDomain and
// for the background re-checks alike.
//
//   proof found, nobody verified ──────────────────► verified            (DomainVerified)
//   TXT proof, another tenant verified ─────────────► verified, theirs revoked (DomainClaimRevoked to both)
//   other proof, another tenant verified ───────────► stays pending, with a diagnosis
//   verified, OwnershipVerified True → False ────────► stays verified     (DomainOwnershipLost)
//   verified, False for longer than the grace ──────► revoked            (DomainClaimRevoked)
//   proof found, name tombstoned for another tenant ─► stays pending, with a diagnosis
//
// A claim that loses its hostname here (revoked, or taken over) keeps its routes until the
// caller withdraws them through the losing project's Project object (`withdraw` in the outcome):
// every routing change runs under that project's lock.

/** What a check reads of the domain before it looks up DNS (JSON-safe: it is journaled). */
export type CheckedDomain = Pick<CustomDomain, "id" | "tenant_id" | "workspace_id" | "environment_id" | "hostname" | "wildcard" | "tls" | "verification_token" | "cname_target" | "status">;

/** The domain as a check sees it, or undefined when it was removed. */
export async function loadCheckedDomain(db: Kysely<Database>, domainId: string): Promise<CheckedDomain | undefined> {
  const row = await db
    .selectFrom("custom_domains")
    .select(["id", "tenant_id", "workspace_id", "environment_id", "hostname", "wildcard", "tls", "verification_token", "cname_target", "status"])
    .where("id", "=", domainId)
    .executeTakeFirst();
  return row && row.status !== "removed" ? { ...row, wildcard: Boolean(row.wildcard), tls: Boolean(row.tls) } : undefined;
}

export function expectationsOf(row: CheckedDomain, config: Config): Expected {
  const name = customDomainName(row.hostname, { wildcard: row.wildcard, platformApex: config.platformApex });
  // Possible only if the rules changed since it was added (e.g. a new platform apex): final.
  if ("problem" in name) throw new GateError("failed_precondition", `domain ${row.id}: hostname ${row.hostname} no longer passes its checks: ${name.problem}`);
  return {
    hostname: row.hostname,
    baseHostname: name.baseHostname,
    apex: name.apex,
    tls: row.tls,
    verificationName: `${VERIFICATION_LABEL}.${name.baseHostname}`,
    verificationValue: verificationValue(row.verification_token),
    cnameTarget: row.cname_target,
    delegationName: `${ACME_CHALLENGE_LABEL}.${name.baseHostname}`,
    delegationTarget: acmeDelegationTarget(row.tenant_id, name.baseHostname, config.platformApex),
    apexAddresses: config.apexAddresses,
    caaIdentities: config.caaIdentities,
    wildcard: row.wildcard,
  };
}

const SKIPPED = Promise.resolve({ kind: "absent" as const });

/**
 * The DNS lookups (and certificate and target lookups) of one check. Background checks look only
 * for the proofs (three queries, or four at an apex); `diagnose` (VerifyDomain) also looks for
 * the usual mistakes: a misplaced TXT token, leftover _acme-challenge TXT records, CAA.
 */
export async function observeDomain(db: Kysely<Database>, dns: DnsProbe, row: CheckedDomain, expected: Expected, opts: { diagnose: boolean }): Promise<Observation> {
  const now = new Date();
  const [verificationTxt, hostnameTxt, mainCname, addresses, delegationCname, delegationTxt, certificate, target] = await Promise.all([
    dns.txt(expected.verificationName),
    opts.diagnose ? dns.txt(expected.baseHostname) : SKIPPED,
    expected.apex ? SKIPPED : dns.cname(expected.hostname),
    expected.apex ? dns.addresses(expected.baseHostname) : SKIPPED,
    dns.cname(expected.delegationName),
    opts.diagnose ? dns.txt(expected.delegationName) : SKIPPED,
    db
      .selectFrom("certificates")
      .select("id")
      .where("hostname", "=", row.hostname)
      .where("workspace_id", "=", row.workspace_id)
      .where("status", "=", "issued")
      .where("not_after", ">", now)
      .executeTakeFirst(),
    targetOf(db, row),
  ]);
  const caa = opts.diagnose && expected.tls ? await applicableCaa(dns, expected.baseHostname) : undefined;
  return { verificationTxt, hostnameTxt, mainCname, addresses, delegationCname, delegationTxt, certificateValid: certificate !== undefined, target, ...(caa ? { caa } : {}) };
}

/** RFC 8659: the CAA set of the closest name, from the hostname up to its registrable domain, that has one. */
async function applicableCaa(dns: DnsProbe, hostname: string): Promise<{ name: string; records: CaaRecord[] } | undefined> {
  const registrable = parse(hostname, { allowPrivateDomains: true }).domain ?? hostname;
  for (let name = hostname; ; name = name.slice(name.indexOf(".") + 1)) {
    const found = await dns.caa(name);
    if (found.kind === "found") return { name, records: found.values };
    // An undecided lookup diagnoses nothing: better no advice than wrong advice.
    if (found.kind === "unknown" || name === registrable || !name.includes(".")) return undefined;
  }
}

/** Whether the environment has something to serve: the live deployment in production, a ready one elsewhere. */
async function targetOf(db: Kysely<Database>, row: CheckedDomain): Promise<{ ready: boolean; message: string }> {
  const environment = await db
    .selectFrom("environments")
    .innerJoin("projects", "projects.id", "environments.project_id")
    .select(["environments.slug", "projects.live_deployment_id"])
    .where("environments.id", "=", row.environment_id ?? "")
    .executeTakeFirst();
  if (!environment) return { ready: false, message: "the domain's environment no longer exists" };
  if (environment.slug === "production") {
    return environment.live_deployment_id
      ? { ready: true, message: `served by live deployment ${environment.live_deployment_id}` }
      : { ready: false, message: "the project has no live deployment yet" };
  }
  const ready = await db.selectFrom("deployments").select("id").where("environment_id", "=", row.environment_id!).where("status", "=", "ready").orderBy("created_at", "desc").executeTakeFirst();
  return ready ? { ready: true, message: `served by deployment ${ready.id}` } : { ready: false, message: `environment ${environment.slug} has no ready deployment yet` };
}

export interface CheckInput {
  domainId: string;
  expected: Expected;
  seen: Observation;
  now: Date;
  /** How long a verified domain may lack every proof before it is detached. */
  lostGraceMs: number;
  /** Checks done since the last reset (VerifyDomain), this one included. */
  attempt: number;
  /** A diagnosing check (VerifyDomain) replaces the stored diagnoses; a background one keeps them until the domain is verified. */
  diagnose: boolean;
  /** When to check next, given the status after this check; null = no more checks. */
  nextCheckDelayMs: (status: CustomDomainStatus, attempt: number) => number | null;
  /** Checks that may fall due in one second (see checkSlots.ts). */
  checksPerSecond: number;
}

export interface CheckOutcome {
  status: CustomDomainStatus;
  ownership: CheckResult["ownership"];
  /** Null when no further check is due (removed). */
  nextCheckInMs: number | null;
  /** Hostnames a project lost with this check, to withdraw through its Project object. */
  withdraw: { projectId: string; hostname: string; reason: string }[];
}

/**
 * Applies one observation under the domain's row lock. A domain that was removed meanwhile is
 * left alone and gets no further checks.
 */
export async function applyDomainCheck(trx: Transaction<Database>, input: CheckInput): Promise<CheckOutcome> {
  const row = await trx.selectFrom("custom_domains").selectAll().where("id", "=", input.domainId).forUpdate().executeTakeFirst();
  if (!row || row.status === "removed") return { status: "removed", ownership: "Unknown", nextCheckInMs: null, withdraw: [] };
  const previous = fromJson<DomainCondition[]>(row.conditions);
  const result = evaluateOwnership(input.expected, input.seen, previous, input.now);
  const events: NewEvent[] = [];
  const withdraw: CheckOutcome["withdraw"] = [];
  const diagnoses = [...result.diagnoses];
  let status = row.status;
  let verifiedAt = row.verified_at;
  const event = (owner: CustomDomain, type: string, payload: object): NewEvent => ({
    tenantId: owner.tenant_id,
    workspaceId: owner.workspace_id,
    type,
    subject: owner.id,
    payload: { domainId: owner.id, hostname: owner.hostname, ...payload },
  });

  const tombstone = await trx.selectFrom("domain_tombstones").select(["tenant_id", "expires_at"]).where("hostname", "=", row.hostname).executeTakeFirst();
  const reservedForOther = tombstone && tombstone.tenant_id !== row.tenant_id && tombstone.expires_at > input.now ? tombstone : undefined;
  if (result.ownership === "True" && (row.status === "pending" || row.status === "revoked") && reservedForOther) {
    // A claim made before the release does not verify while the name is reserved (no proof
    // shortens the reservation: the former owner may still have traffic and DNS pointing here).
    diagnoses.push({
      problem: `${row.hostname} was released by its previous owner and is reserved for it until ${reservedForOther.expires_at.toISOString()}`,
      fix: "check again after the reservation ends",
    });
  } else if (result.ownership === "True" && (row.status === "pending" || row.status === "revoked")) {
    const owner = await trx.selectFrom("custom_domains").selectAll().where("verified_hostname", "=", row.hostname).forUpdate().executeTakeFirst();
    if (owner && !result.proofs.includes("txt")) {
      diagnoses.push({
        problem: `${row.hostname} is verified by another account; only the TXT record proves a takeover`,
        fix: `create the TXT record ${input.expected.verificationName} shown in the required records`,
      });
    } else {
      if (owner) {
        await trx.updateTable("custom_domains").set({ status: "revoked", verified_at: null }).where("id", "=", owner.id).execute();
        // The former owner stops serving the name next, through its project's lock.
        withdraw.push({ projectId: owner.project_id, hostname: owner.hostname, reason: "taken over by another account" });
        events.push(event(owner, "DomainClaimRevoked", { reason: "another account proved control with its TXT record" }));
        events.push(event(row, "DomainClaimRevoked", { revokedDomainId: owner.id, reason: "your TXT proof took the hostname over" }));
      }
      status = "verified";
      verifiedAt = input.now;
      events.push(event(row, "DomainVerified", { proofs: result.proofs }));
    }
  }
  const ownershipBefore = previous.find((c) => c.type === "OwnershipVerified");
  const ownershipNow = result.conditions.find((c) => c.type === "OwnershipVerified")!;
  if (row.status === "verified" && ownershipBefore?.status === "True" && ownershipNow.status === "False") {
    events.push(event(row, "DomainOwnershipLost", { graceEndsAt: new Date(input.now.getTime() + input.lostGraceMs).toISOString() }));
  }
  // Every proof gone (a valid certificate counts as one) for longer than the grace: detach.
  if (row.status === "verified" && ownershipNow.status === "False" && input.now.getTime() - Date.parse(ownershipNow.lastTransitionTime) >= input.lostGraceMs) {
    status = "revoked";
    verifiedAt = null;
    withdraw.push({ projectId: row.project_id, hostname: row.hostname, reason: "ownership lost" });
    events.push(event(row, "DomainClaimRevoked", { reason: "ownership lost and not restored within the grace period" }));
  }

  const wantedInMs = input.nextCheckDelayMs(status, input.attempt);
  // The next check takes the first free place at or after its backoff step.
  const nextCheckAt = wantedInMs === null ? null : await reserveCheckSlot(trx, new Date(input.now.getTime() + wantedInMs), input.checksPerSecond);
  const nextCheckInMs = nextCheckAt === null ? null : nextCheckAt.getTime() - input.now.getTime();
  await trx
    .updateTable("custom_domains")
    .set({
      status,
      verified_at: verifiedAt,
      conditions: toJson(result.conditions),
      ...(input.diagnose || status === "verified" ? { diagnoses: toJson(diagnoses) } : {}),
      check_attempt: input.attempt,
      next_check_at: nextCheckAt,
    })
    .where("id", "=", row.id)
    .execute();
  if (events.length > 0) await appendEvents(trx, events);
  return { status, ownership: result.ownership, nextCheckInMs, withdraw };
}

export interface ServingTarget {
  projectId: string;
  deploymentId: string;
  hostname: string;
}

/**
 * Where a verified domain that is not routed yet should point: the live deployment for
 * production, the newest ready deployment of another environment. Undefined when its project
 * routes it already, it is not verified, or its environment has nothing to serve yet.
 */
export async function unattachedTarget(db: Kysely<Database>, domainId: string): Promise<ServingTarget | undefined> {
  const row = await db
    .selectFrom("custom_domains as d")
    .innerJoin("environments as e", "e.id", "d.environment_id")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .select(["d.hostname", "d.project_id", "d.environment_id", "d.status", "e.slug", "p.live_deployment_id"])
    .where("d.id", "=", domainId)
    .executeTakeFirst();
  if (!row || row.status !== "verified") return undefined;
  // Routed by its own project already; a route another project still holds is taken back.
  const routed = await db.selectFrom("routes").select("id").where("hostname", "=", row.hostname).where("project_id", "=", row.project_id).executeTakeFirst();
  if (routed) return undefined;
  const deploymentId =
    row.slug === "production"
      ? row.live_deployment_id
      : (await db.selectFrom("deployments").select("id").where("environment_id", "=", row.environment_id).where("status", "=", "ready").orderBy("created_at", "desc").executeTakeFirst())?.id;
  return deploymentId ? { projectId: row.project_id, deploymentId, hostname: row.hostname } : undefined;
}
