import type { Kysely, Transaction } from "kysely";
import { challengeFor, type ChallengeChoice } from "./challengeChoice.js";
import type { Config } from "../config.js";
import { appendEvents } from "../db/events.js";
import { newId } from "../db/ids.js";
import { fromJson, toJson, type AcmeUser, type Database } from "../db/schema.js";
import type { DomainCondition } from "../customDomains/conditions.js";

// The transactions of a certificate's life — start an attempt, record its failure, mark it
// issued, start a renewal, raise an expiry warning. The Certificate object (workflows/
// certificate.ts) orchestrates them, each as one named step.

export interface DomainFacts {
  tenantId: string;
  workspaceId: string;
  projectId: string;
  /** The challenge this attempt uses, or why none can be used now. */
  challenge: ChallengeChoice;
}

export interface AttemptInput {
  domainId: string;
  certificateId: string;
  hostname: string;
  domain: DomainFacts;
}

export async function accountById(db: Kysely<Database>, accountId: string): Promise<AcmeUser> {
  return db.selectFrom("acme_users").selectAll().where("id", "=", accountId).executeTakeFirstOrThrow();
}

/**
 * Whether this attempt should run: its row still exists and is the hostname's newest attempt,
 * and the domain is still live, verified and TLS-enabled. A stale retry (the domain was removed,
 * or a newer attempt exists) stops quietly.
 */
export async function startAttempt(trx: Transaction<Database>, hostname: string, req: { domainId: string; certificateId: string }, config: Config): Promise<DomainFacts | { stop: string }> {
  const row = await trx.selectFrom("certificates").selectAll().where("id", "=", req.certificateId).forUpdate().executeTakeFirst();
  if (!row || row.hostname !== hostname) return { stop: `certificate ${req.certificateId} no longer exists` };
  if (row.status === "issued" || row.status === "superseded") return { stop: `certificate ${req.certificateId} is already ${row.status}` };
  const newer = await trx
    .selectFrom("certificates")
    .select("id")
    .where("hostname", "=", hostname)
    .where("status", "in", ["pending", "failed"])
    .where("created_at", ">", row.created_at)
    .executeTakeFirst();
  if (newer) return { stop: `a newer attempt (${newer.id}) replaced this one` };
  const domain = await trx.selectFrom("custom_domains").selectAll().where("id", "=", req.domainId).executeTakeFirst();
  const unwanted =
    !domain || domain.hostname !== hostname || domain.status === "removed" ? "the domain was removed" : domain.status !== "verified" ? `${hostname} is not verified` : !domain.tls ? `TLS is disabled for ${hostname}` : undefined;
  if (unwanted) {
    await trx.updateTable("certificates").set({ status: "failed", last_error: unwanted, next_attempt_at: null }).where("id", "=", row.id).execute();
    return { stop: unwanted };
  }
  await trx.updateTable("certificates").set({ status: "pending", next_attempt_at: null }).where("id", "=", row.id).execute();
  const challenge = challengeFor(domain!, config);
  return { tenantId: domain!.tenant_id, workspaceId: domain!.workspace_id, projectId: domain!.project_id, challenge };
}

/** The successor row of a certificate due for renewal, unless renewal is off or not needed. */
export async function startRenewal(trx: Transaction<Database>, hostname: string, req: { domainId: string; certificateId: string }): Promise<{ successorId: string } | { skipped: string }> {
  const current = await trx.selectFrom("certificates").selectAll().where("id", "=", req.certificateId).forUpdate().executeTakeFirst();
  if (!current || current.status !== "issued") return { skipped: `certificate ${req.certificateId} is no longer the current one` };
  if (!current.auto_renew) return { skipped: "auto-renew is off" };
  const inFlight = await trx.selectFrom("certificates").select("id").where("hostname", "=", hostname).where("status", "in", ["pending", "failed"]).where("created_at", ">", current.created_at).executeTakeFirst();
  if (inFlight) return { skipped: `renewal ${inFlight.id} is already under way` };
  const domain = await trx.selectFrom("custom_domains").select(["status", "tls"]).where("id", "=", req.domainId).executeTakeFirst();
  if (!domain || domain.status !== "verified" || !domain.tls) return { skipped: "the domain is no longer verified with TLS" };
  const successorId = newId("crt");
  await trx.insertInto("certificates").values({ id: successorId, hostname, custom_domain_id: req.domainId, workspace_id: current.workspace_id, status: "pending", auto_renew: current.auto_renew }).execute();
  return { successorId };
}

/** Sets the TLSReady condition of a domain (its transition time moves only on a change). */
export async function setTlsReady(trx: Transaction<Database>, domainId: string, verdict: Pick<DomainCondition, "status" | "reason" | "message">): Promise<void> {
  const row = await trx.selectFrom("custom_domains").select("conditions").where("id", "=", domainId).forUpdate().executeTakeFirst();
  if (!row) return;
  const now = new Date().toISOString();
  const conditions = fromJson<DomainCondition[]>(row.conditions).map((c) =>
    c.type === "TLSReady" ? { ...c, ...verdict, lastTransitionTime: c.status === verdict.status ? c.lastTransitionTime : now, lastObservationTime: now } : c,
  );
  await trx.updateTable("custom_domains").set({ conditions: toJson(conditions) }).where("id", "=", domainId).execute();
}

/** After a failed attempt: why, when the next one runs (null: the row is gone), TLSReady, an event. */
export async function recordAttemptFailure(
  trx: Transaction<Database>,
  input: AttemptInput & { message: string; backoffMs: readonly number[] },
): Promise<{ delayMs: number; nextAttemptAt: string } | null> {
  const row = await trx.selectFrom("certificates").select(["attempts"]).where("id", "=", input.certificateId).forUpdate().executeTakeFirst();
  // Deleted meanwhile (its domain was removed): nothing to retry.
  if (!row) return null;
  const attempts = row.attempts + 1;
  const backoff = input.backoffMs;
  const delayMs = backoff[Math.min(attempts - 1, backoff.length - 1)]!;
  const nextAttemptAt = new Date(Date.now() + delayMs);
  await trx.updateTable("certificates").set({ status: "failed", last_error: input.message, attempts, next_attempt_at: nextAttemptAt }).where("id", "=", input.certificateId).execute();
  // A renewal failing while the current certificate is still valid leaves TLS up.
  const current = await trx.selectFrom("certificates").select("not_after").where("hostname", "=", input.hostname).where("status", "=", "issued").executeTakeFirst();
  const serving = current?.not_after ? current.not_after > new Date() : false;
  if (!serving) await setTlsReady(trx, input.domainId, { status: "False", reason: "IssuanceFailed", message: `${input.message} (next attempt at ${nextAttemptAt.toISOString()})` });
  await appendEvents(trx, [
    {
      tenantId: input.domain.tenantId,
      workspaceId: input.domain.workspaceId,
      type: "CertIssuanceFailed",
      subject: input.certificateId,
      payload: { certificateId: input.certificateId, domainId: input.domainId, hostname: input.hostname, renewal: current !== undefined, attempts, error: input.message, nextAttemptAt: nextAttemptAt.toISOString() },
    },
  ]);
  return { delayMs, nextAttemptAt: nextAttemptAt.toISOString() };
}

/**
 * The certificate is stored: TLSReady True and CertProvisioned, and when to renew and warn
 * (null: removed with its domain since it was stored).
 */
export async function markCertificateIssued(
  trx: Transaction<Database>,
  input: AttemptInput & { notAfter: string; expiryWarningsMs: readonly number[] },
): Promise<{ renewInMs: number; warnings: { thresholdMs: number; inMs: number }[] } | null> {
  await setTlsReady(trx, input.domainId, { status: "True", reason: "CertificateIssued", message: `certificate ${input.certificateId} valid until ${input.notAfter}` });
  await appendEvents(trx, [
    { tenantId: input.domain.tenantId, workspaceId: input.domain.workspaceId, type: "CertProvisioned", subject: input.certificateId, payload: { certificateId: input.certificateId, domainId: input.domainId, hostname: input.hostname, notAfter: input.notAfter } },
  ]);
  const row = await trx.selectFrom("certificates").select(["renew_at", "not_after"]).where("id", "=", input.certificateId).executeTakeFirst();
  // Removed with its domain since it was stored: nothing to renew or warn about.
  if (!row?.renew_at || !row.not_after) return null;
  const now = Date.now();
  const notAfter = row.not_after;
  return {
    renewInMs: Math.max(0, row.renew_at.getTime() - now),
    warnings: input.expiryWarningsMs.map((thresholdMs) => ({ thresholdMs, inMs: notAfter.getTime() - thresholdMs - now })).filter((w) => w.inMs > 0),
  };
}

/** CertExpiring, while the certificate is still the current one (no renewal replaced it). */
export async function raiseCertExpiring(trx: Transaction<Database>, certificateId: string): Promise<{ raised: boolean }> {
  const row = await trx
    .selectFrom("certificates as c")
    .innerJoin("custom_domains as d", "d.id", "c.custom_domain_id")
    .select(["c.id", "c.hostname", "c.not_after", "c.custom_domain_id", "d.tenant_id", "d.workspace_id"])
    .where("c.id", "=", certificateId)
    .where("c.status", "=", "issued")
    .where("d.status", "<>", "removed")
    .executeTakeFirst();
  if (!row?.not_after) return { raised: false };
  const failing = await trx.selectFrom("certificates").select(["last_error", "next_attempt_at"]).where("hostname", "=", row.hostname).where("status", "=", "failed").orderBy("created_at", "desc").executeTakeFirst();
  await appendEvents(trx, [
    {
      tenantId: row.tenant_id,
      workspaceId: row.workspace_id,
      type: "CertExpiring",
      subject: row.id,
      payload: {
        certificateId: row.id,
        domainId: row.custom_domain_id,
        hostname: row.hostname,
        notAfter: row.not_after.toISOString(),
        secondsLeft: Math.max(0, Math.round((row.not_after.getTime() - Date.now()) / 1000)),
        renewalError: failing?.last_error ?? null,
        nextAttemptAt: failing?.next_attempt_at?.toISOString() ?? null,
      },
    },
  ]);
  return { raised: true };
}
