/*
 * Certificate: one virtual object per hostname (key: the A-label hostname), so two orders for a
 * name never run at once. It owns a certificate's whole life:
 *
 *   issue:  start attempt ─► ensure account ─► take an order slot (the account's budget; a durable
 *           sleep when it is spent) ─► create order ─► publish challenge (a MySQL row: HTTP-01
 *           served on /.well-known/acme-challenge/, or DNS-01 answered by the challenge-zone DNS
 *           server when the customer delegated _acme-challenge — before any traffic moves, and
 *           the only way for a wildcard) ─► tell the CA ─► poll the authorization ─► generate
 *           key and CSR (sealed into the row) ─► finalize ─► poll the order ─► download ─► store
 *           (earlier one superseded) ─► attach to the gateway config (Project object) ─► TLSReady
 *           True + CertProvisioned ─► renewal and expiry warnings scheduled (delayed calls)
 *           A failed attempt records why, raises CertIssuanceFailed and calls itself again after
 *           the retry backoff (1 h doubling to 32 h by default, forever until the domain goes).
 *           A rate-limit answer is a durable sleep of the CA's Retry-After, then the same request.
 *   renew:  at renew_at (two thirds into the lifetime): a new certificate row, then issue.
 *   warnExpiring: at not_after minus each configured threshold, CertExpiring while no renewal
 *           has replaced the certificate.
 *
 * Every step is named in the Restate UI. Only public material (URLs, the CSR, the chain) is
 * journaled; account and certificate keys are opened or generated inside a step and stored sealed.
 */
import * as restate from "@restatedev/restate-sdk";
import type * as acme from "acme-client";
import type { Transaction } from "kysely";
import { ensureAccount } from "../src/acme/accounts.js";
import { CaBackoffError, installCaBackoff } from "../src/acme/caProblems.js";
import { pollAuthorization, pollDelayMs, pollOrder, POLL_DEADLINE_MS, type PollResult } from "../src/acme/caPolling.js";
import { challengeFor, type ChallengeChoice } from "../src/acme/challengeChoice.js";
import { acmeClient, caDetail, prepareKey, publishChallenges, storeChain, type Order } from "../src/acme/issuance.js";
import { markOrderPlaced, takeOrderSlot } from "../src/acme/orderBudget.js";
import { appendEvents } from "../src/db/events.js";
import { newId } from "../src/db/ids.js";
import { fromJson, toJson, type Database } from "../src/db/schema.js";
import type { DomainCondition } from "../src/domain/domainConditions.js";
import type { Config } from "../src/config.js";
import { Vault } from "../src/vault/vault.js";
import type { WorkflowDeps } from "./deps.js";
import { domainApi } from "./domain.js";
import { projectApi } from "./project.js";
import { dbStep, step } from "./steps.js";

export interface IssueRequest {
  domainId: string;
  certificateId: string;
}

export interface IssueResult {
  certificateId: string;
  status: "issued" | "failed" | "stopped";
  notAfter?: string;
  nextAttemptAt?: string;
  reason?: string;
}

/** An attempt that failed for a reason worth retrying later (the CA, the network, a validation). */
class AttemptFailed extends Error {}

/** How many times one order waits for room in the account's order budget before the attempt fails. */
const MAX_BUDGET_ROUNDS = 1000;

/** How many rate-limit answers in a row one request waits out before the attempt counts as failed. */
const MAX_CA_WAITS = 8;

interface DomainFacts {
  tenantId: string;
  workspaceId: string;
  projectId: string;
  /** The challenge this attempt uses, or why none can be used now. */
  challenge: ChallengeChoice;
}

export function createCertificateObject(deps: WorkflowDeps) {
  const { db, config } = deps;
  const vault = config.masterKeys.length > 0 ? new Vault(config.masterKeys) : undefined;
  installCaBackoff();

  /**
   * One CA request as a journaled step. Its outcome is journaled as data, so a CA error never
   * makes Restate replay the request blindly: a rate limit becomes a durable sleep of at least
   * the CA's Retry-After and the same request again; anything else fails the attempt.
   */
  async function caCall<T>(ctx: restate.ObjectContext, name: string, call: () => Promise<T>): Promise<T> {
    for (let waits = 0; ; waits++) {
      const label = waits === 0 ? name : `${name} (again after ${waits} wait${waits > 1 ? "s" : ""})`;
      const outcome = await step(ctx, label, async () => {
        try {
          return { ok: true as const, value: await call() };
        } catch (error) {
          if (error instanceof restate.TerminalError) throw error;
          if (error instanceof CaBackoffError) return { ok: false as const, waitMs: error.retryAfterMs, detail: error.detail };
          return { ok: false as const, detail: caDetail(error) };
        }
      });
      if (outcome.ok) return outcome.value;
      if (outcome.waitMs === undefined) throw new AttemptFailed(`${name}: ${outcome.detail}`);
      if (waits >= MAX_CA_WAITS) throw new AttemptFailed(`${name}: still told to wait after ${MAX_CA_WAITS} waits (${outcome.detail})`);
      await ctx.sleep(outcome.waitMs, `the CA asked to wait (${name})`);
    }
  }

  /** Polls until the CA decides (valid or invalid), sleeping durably between polls. */
  async function pollUntilDecided<T>(ctx: restate.ObjectContext, name: string, poll: () => Promise<PollResult<T>>): Promise<PollResult<T>> {
    let waited = 0;
    for (let n = 0; ; n++) {
      const result = await caCall(ctx, `${name} (poll ${n + 1})`, poll);
      if (result.status === "valid" || result.status === "invalid") return result;
      const delay = pollDelayMs(n, result.retryAfterMs);
      if (waited + delay > POLL_DEADLINE_MS) throw new AttemptFailed(`${name}: the CA left it ${result.status} for ${Math.round(waited / 1000)} s`);
      waited += delay;
      await ctx.sleep(delay, `${name}: the CA is still deciding`);
    }
  }

  /** Runs one order from account to stored chain; throws AttemptFailed for a retryable failure. */
  async function orderOnce(ctx: restate.ObjectContext, req: IssueRequest, domain: DomainFacts, v: Vault): Promise<{ notAfter: string }> {
    const hostname = ctx.key;
    if ("problem" in domain.challenge) throw new AttemptFailed(domain.challenge.problem);
    // One account per workspace, or the platform's one for every order (SWITCHYARD_ACME_ACCOUNT).
    const scope = config.acmeAccount === "platform" ? "platform" : domain.workspaceId;
    const accountId = await caCall(ctx, "ensure ACME account", async () => (await ensureAccount(db, v, { scope, directoryUrl: config.acmeDirectoryUrl })).account.id);
    // One client for the whole attempt: a new one would fetch the CA's directory and a nonce again
    // for every step. (A process that replays the attempt after a crash builds its own.)
    let cached: Promise<acme.Client> | undefined;
    const client = () =>
      (cached ??= db
        .selectFrom("acme_users")
        .selectAll()
        .where("id", "=", accountId)
        .executeTakeFirstOrThrow()
        .then((account) => acmeClient(v, account))
        .catch((error: unknown) => {
          cached = undefined;
          throw error;
        }));

    // The account's order budget: take a place in the current window, or sleep until one opens.
    let slotId: string | undefined;
    for (let round = 1; slotId === undefined; round++) {
      if (round > MAX_BUDGET_ROUNDS) throw new AttemptFailed(`the ACME account's order budget stayed spent through ${MAX_BUDGET_ROUNDS} waits`);
      const slot = await dbStep(ctx, round === 1 ? "take an order slot" : `take an order slot (round ${round})`, db, (trx) => takeOrderSlot(trx, accountId, hostname, config.acmeOrderBudget, new Date()));
      slotId = slot.slotId;
      if (slotId === undefined) await ctx.sleep(slot.waitMs, "the account's order budget is spent");
    }

    const { order, placedAt } = await caCall(ctx, "create order", async () => ({
      order: await (await client()).createOrder({ identifiers: [{ type: "dns", value: hostname }] }),
      placedAt: new Date().toISOString(),
    }));
    await dbStep(ctx, "record when the CA took the order", db, (trx) => markOrderPlaced(trx, accountId, slotId, new Date(placedAt)));
    const choice = domain.challenge;
    const method = choice.type === "dns-01" ? `DNS-01 (TXT at ${choice.dnsName})` : "HTTP-01";
    const challenges = await caCall(ctx, `publish ${choice.type.toUpperCase()} challenge`, async () => publishChallenges(db, await client(), order, { domainId: req.domainId, hostname, method: choice }));
    for (const [i, { challenge, authorizationUrl }] of challenges.entries()) {
      await caCall(ctx, `tell the CA (challenge ${i + 1})`, async () => (await client()).completeChallenge(challenge).then(() => true));
      const authorization = await pollUntilDecided(ctx, `authorization ${i + 1}`, async () => pollAuthorization(await client(), authorizationUrl));
      if (authorization.status !== "valid") {
        throw new AttemptFailed(`the CA could not validate ${hostname} over ${method}: ${authorization.detail ?? "the authorization is invalid"}`);
      }
    }
    const csr = await step(ctx, "generate key and CSR", () => prepareKey(db, v, req.certificateId, hostname));
    await caCall(ctx, "finalize order", async () => {
      const ca = await client();
      const current: Order = await ca.getOrder(order);
      // A retry after a crash finds the order already finalized: finalizing twice is an error.
      return current.status === "ready" ? ca.finalizeOrder(current, csr).then(() => true) : true;
    });
    const finalized = await pollUntilDecided(ctx, "order", async () => pollOrder(await client(), order.url));
    if (finalized.status !== "valid") throw new AttemptFailed(`the CA refused to issue for ${hostname}: ${finalized.detail ?? "the order is invalid"}`);
    const chain = await caCall(ctx, "download certificate", async () => (await client()).getCertificate(finalized.body));
    return dbStep(ctx, "store certificate", db, async (trx) => {
      const { notAfter } = await storeChain(trx, req.certificateId, chain);
      return { notAfter: notAfter.toISOString() };
    });
  }

  /** After a failed attempt: why, when the next one runs, the TLSReady condition, an event. */
  async function recordFailure(ctx: restate.ObjectContext, req: IssueRequest, domain: DomainFacts, message: string): Promise<IssueResult> {
    const next = await dbStep(ctx, "record failure", db, async (trx) => {
      const row = await trx.selectFrom("certificates").select(["attempts"]).where("id", "=", req.certificateId).forUpdate().executeTakeFirstOrThrow();
      const attempts = row.attempts + 1;
      const backoff = config.certRetryBackoffMs;
      const delayMs = backoff[Math.min(attempts - 1, backoff.length - 1)]!;
      const nextAttemptAt = new Date(Date.now() + delayMs);
      await trx.updateTable("certificates").set({ status: "failed", last_error: message, attempts, next_attempt_at: nextAttemptAt }).where("id", "=", req.certificateId).execute();
      // A renewal failing while the current certificate is still valid leaves TLS up.
      const current = await trx.selectFrom("certificates").select("not_after").where("hostname", "=", ctx.key).where("status", "=", "issued").executeTakeFirst();
      const serving = current?.not_after ? current.not_after > new Date() : false;
      if (!serving) await setTlsReady(trx, req.domainId, { status: "False", reason: "IssuanceFailed", message: `${message} (next attempt at ${nextAttemptAt.toISOString()})` });
      await appendEvents(trx, [
        {
          tenantId: domain.tenantId,
          workspaceId: domain.workspaceId,
          type: "CertIssuanceFailed",
          subject: req.certificateId,
          payload: { certificateId: req.certificateId, domainId: req.domainId, hostname: ctx.key, renewal: current !== undefined, attempts, error: message, nextAttemptAt: nextAttemptAt.toISOString() },
        },
      ]);
      return { delayMs, nextAttemptAt: nextAttemptAt.toISOString() };
    });
    ctx.objectSendClient(certificateApi, ctx.key).issue(req, restate.rpc.sendOpts({ delay: { milliseconds: next.delayMs } }));
    return { certificateId: req.certificateId, status: "failed", nextAttemptAt: next.nextAttemptAt, reason: message };
  }

  return restate.object({
    name: "Certificate",
    handlers: {
      /** One order attempt for a certificate row; on failure it schedules the next one itself. */
      issue: async (ctx: restate.ObjectContext, req: IssueRequest): Promise<IssueResult> => {
        if (!vault) throw new restate.TerminalError("certificates need SWITCHYARD_MASTER_KEYS to encrypt their keys", { errorCode: 412 });
        const start = await dbStep(ctx, "start attempt", db, (trx) => startAttempt(trx, ctx.key, req, config));
        if ("stop" in start) return { certificateId: req.certificateId, status: "stopped", reason: start.stop };
        const domain = start;

        let stored: { notAfter: string };
        try {
          stored = await orderOnce(ctx, req, domain, vault);
        } catch (error) {
          if (error instanceof AttemptFailed) return recordFailure(ctx, req, domain, error.message);
          throw error;
        }

        // The gateway config names the certificate (through the project's lock).
        await ctx.objectClient(projectApi, domain.projectId).refreshGatewayConfigs({ hostnames: [ctx.key] });
        const schedule = await dbStep(ctx, "mark TLS ready", db, async (trx) => {
          await setTlsReady(trx, req.domainId, { status: "True", reason: "CertificateIssued", message: `certificate ${req.certificateId} valid until ${stored.notAfter}` });
          await appendEvents(trx, [
            { tenantId: domain.tenantId, workspaceId: domain.workspaceId, type: "CertProvisioned", subject: req.certificateId, payload: { certificateId: req.certificateId, domainId: req.domainId, hostname: ctx.key, notAfter: stored.notAfter } },
          ]);
          const row = await trx.selectFrom("certificates").select(["renew_at", "not_after"]).where("id", "=", req.certificateId).executeTakeFirstOrThrow();
          const now = Date.now();
          return {
            renewInMs: Math.max(0, row.renew_at!.getTime() - now),
            warnings: config.certExpiryWarningsMs.map((thresholdMs) => ({ thresholdMs, inMs: row.not_after!.getTime() - thresholdMs - now })).filter((w) => w.inMs > 0),
          };
        });
        const self = ctx.objectSendClient(certificateApi, ctx.key);
        self.renew(req, restate.rpc.sendOpts({ delay: { milliseconds: schedule.renewInMs } }));
        for (const warning of schedule.warnings) {
          self.warnExpiring({ certificateId: req.certificateId, thresholdMs: warning.thresholdMs }, restate.rpc.sendOpts({ delay: { milliseconds: warning.inMs } }));
        }
        // Ready is an aggregate of the conditions: the domain's object recomputes it.
        ctx.objectSendClient(domainApi, req.domainId).verify({});
        return { certificateId: req.certificateId, status: "issued", notAfter: stored.notAfter };
      },

      /** At renew_at: orders the successor of a certificate that is still the hostname's current one. */
      renew: async (ctx: restate.ObjectContext, req: IssueRequest): Promise<{ successorId?: string; skipped?: string }> => {
        const next = await dbStep(ctx, "start renewal", db, (trx) => startRenewal(trx, ctx.key, req));
        if ("skipped" in next) return next;
        ctx.objectSendClient(certificateApi, ctx.key).issue({ domainId: req.domainId, certificateId: next.successorId });
        return next;
      },

      /** Raises CertExpiring while the certificate is still current, that is no renewal has replaced it. */
      warnExpiring: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext, req: { certificateId: string; thresholdMs: number }): Promise<{ raised: boolean }> =>
        dbStep(ctx, "raise CertExpiring", db, async (trx) => {
          const row = await trx
            .selectFrom("certificates as c")
            .innerJoin("custom_domains as d", "d.id", "c.custom_domain_id")
            .select(["c.id", "c.hostname", "c.not_after", "c.custom_domain_id", "d.tenant_id", "d.workspace_id"])
            .where("c.id", "=", req.certificateId)
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
        }),
      ),
    },
  });
}

/**
 * Whether this attempt should run: its row still exists and is the hostname's newest attempt,
 * and the domain is still live, verified and TLS-enabled. A stale retry (the domain was removed,
 * or a newer attempt exists) stops quietly.
 */
async function startAttempt(trx: Transaction<Database>, hostname: string, req: IssueRequest, config: Config): Promise<DomainFacts | { stop: string }> {
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
async function startRenewal(trx: Transaction<Database>, hostname: string, req: IssueRequest): Promise<{ successorId: string } | { skipped: string }> {
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
async function setTlsReady(trx: Transaction<Database>, domainId: string, verdict: Pick<DomainCondition, "status" | "reason" | "message">): Promise<void> {
  const row = await trx.selectFrom("custom_domains").select("conditions").where("id", "=", domainId).forUpdate().executeTakeFirst();
  if (!row) return;
  const now = new Date().toISOString();
  const conditions = fromJson<DomainCondition[]>(row.conditions).map((c) =>
    c.type === "TLSReady" ? { ...c, ...verdict, lastTransitionTime: c.status === verdict.status ? c.lastTransitionTime : now, lastObservationTime: now } : c,
  );
  await trx.updateTable("custom_domains").set({ conditions: toJson(conditions) }).where("id", "=", domainId).execute();
}

export type CertificateObject = ReturnType<typeof createCertificateObject>;
export const certificateApi: CertificateObject = { name: "Certificate" } as CertificateObject;
