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
import { acmeChallenges, acmeOrders, acmeRateLimitWaits } from "../src/telemetry/metrics.js";
import type * as acme from "acme-client";
import { ensureAccount } from "../src/acme/accounts.js";
import { CaBackoffError, installCaBackoff } from "../src/acme/caProblems.js";
import { pollAuthorization, pollDelayMs, pollOrder, POLL_DEADLINE_MS, type PollResult } from "../src/acme/caPolling.js";
import { accountById, markCertificateIssued, raiseCertExpiring, recordAttemptFailure, startAttempt, startRenewal, type DomainFacts } from "../src/acme/certificateAttempts.js";
import { acmeClient, caDetail, prepareKey, publishChallenges, storeChain, type Order } from "../src/acme/issuance.js";
import { markOrderPlaced, takeOrderSlot } from "../src/acme/orderBudget.js";
import { Vault } from "../src/vault/vault.js";
import type { WorkflowDeps } from "./deps.js";
import { certificateApi, domainApi, projectApi } from "./handles.js";
import { z } from "zod";
import { id, input, INTERNAL, serviceOptions } from "./handlerOptions.js";
import { dbStep, step, toTerminal } from "./steps.js";
import { statusOfRule } from "../src/domain/ruleCodes.js";

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
          if (error instanceof CaBackoffError) {
            acmeRateLimitWaits.inc({ reason: "ca_retry_after" });
            return { ok: false as const, waitMs: error.retryAfterMs, detail: error.detail };
          }
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
      (cached ??= accountById(db, accountId)
        .then((account) => acmeClient(v, account))
        .catch((error: unknown) => {
          cached = undefined;
          throw error;
        }));

    // The account's order budget: take a place in the current window, or sleep until one opens.
    let slotId: string | undefined;
    for (let round = 1; slotId === undefined; round++) {
      if (round > MAX_BUDGET_ROUNDS) throw new AttemptFailed(`the ACME account's order budget stayed spent through ${MAX_BUDGET_ROUNDS} waits`);
      const slot = await dbStep(ctx, round === 1 ? "take an order slot" : `take an order slot (round ${round})`, db, async (trx) => {
        const taken = await takeOrderSlot(trx, accountId, hostname, config.acmeOrderBudget, new Date());
        if (taken.slotId === undefined) acmeRateLimitWaits.inc({ reason: "order_budget" });
        return taken;
      });
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
      const authorization = await pollUntilDecided(ctx, `authorization ${i + 1}`, async () => {
        const polled = await pollAuthorization(await client(), authorizationUrl);
        if (polled.status === "valid" || polled.status === "invalid") acmeChallenges.inc({ type: choice.type, outcome: polled.status });
        return polled;
      });
      if (authorization.status !== "valid") {
        throw new AttemptFailed(`the CA could not validate ${hostname} over ${method}: ${authorization.detail ?? "the authorization is invalid"}`);
      }
    }
    const csr = await step(ctx, "generate key and CSR", () => prepareKey(db, v, req.certificateId, hostname).catch((error: unknown) => Promise.reject(toTerminal(error))));
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
      acmeOrders.inc({ outcome: "issued" });
      return { notAfter: notAfter.toISOString() };
    });
  }

  /** After a failed attempt: why, when the next one runs, the TLSReady condition, an event. */
  async function recordFailure(ctx: restate.ObjectContext, req: IssueRequest, domain: DomainFacts, message: string): Promise<IssueResult> {
    const next = await dbStep(ctx, "record failure", db, async (trx) => {
      const recorded = await recordAttemptFailure(trx, { ...req, hostname: ctx.key, domain, message, backoffMs: config.certRetryBackoffMs });
      if (recorded) acmeOrders.inc({ outcome: "failed" });
      return recorded;
    });
    if (!next) return stopped(req, `certificate ${req.certificateId} no longer exists`);
    ctx.objectSendClient(certificateApi, ctx.key).issue(req, restate.rpc.sendOpts({ delay: { milliseconds: next.delayMs } }));
    return { certificateId: req.certificateId, status: "failed", nextAttemptAt: next.nextAttemptAt, reason: message };
  }

  const { exclusive, shared } = restate.handlers.object;
  return restate.object({
    name: "Certificate",
    options: serviceOptions(config, "pause"),
    handlers: {
      /** One order attempt for a certificate row; on failure it schedules the next one itself. */
      issue: exclusive({ input: input(issueRequest) }, async (ctx: restate.ObjectContext, req): Promise<IssueResult> => {
        if (!vault) throw new restate.TerminalError("certificates need SWITCHYARD_MASTER_KEYS to encrypt their keys", { errorCode: statusOfRule("failed_precondition") });
        const start = await dbStep(ctx, "start attempt", db, (trx) => startAttempt(trx, ctx.key, req, config));
        if ("stop" in start) return stopped(req, start.stop);
        const domain = start;

        let stored: { notAfter: string };
        try {
          stored = await orderOnce(ctx, req, domain, vault);
        } catch (error) {
          if (error instanceof AttemptFailed) return recordFailure(ctx, req, domain, error.message);
          // The certificate row was deleted under the attempt (its domain was removed): it ends here.
          if (error instanceof restate.TerminalError && error.code === 404) return stopped(req, error.message);
          throw error;
        }

        // The gateway config names the certificate (through the project's lock).
        await ctx.objectClient(projectApi, domain.projectId).refreshGatewayConfigs({ hostnames: [ctx.key] });
        const schedule = await dbStep(ctx, "mark TLS ready", db, (trx) => markCertificateIssued(trx, { ...req, hostname: ctx.key, domain, notAfter: stored.notAfter, expiryWarningsMs: config.certExpiryWarningsMs }));
        if (!schedule) return stopped(req, `certificate ${req.certificateId} no longer exists`);
        const self = ctx.objectSendClient(certificateApi, ctx.key);
        self.renew(req, restate.rpc.sendOpts({ delay: { milliseconds: schedule.renewInMs } }));
        for (const warning of schedule.warnings) {
          self.warnExpiring({ certificateId: req.certificateId, thresholdMs: warning.thresholdMs }, restate.rpc.sendOpts({ delay: { milliseconds: warning.inMs } }));
        }
        // Ready is an aggregate of the conditions: the domain's object recomputes it.
        ctx.objectSendClient(domainApi, req.domainId).verify({});
        return { certificateId: req.certificateId, status: "issued", notAfter: stored.notAfter };
      }),

      /** At renew_at: orders the successor of a certificate that is still the hostname's current one. */
      renew: exclusive({ ...INTERNAL, input: input(issueRequest) }, async (ctx: restate.ObjectContext, req): Promise<{ successorId?: string; skipped?: string }> => {
        const next = await dbStep(ctx, "start renewal", db, (trx) => startRenewal(trx, ctx.key, req));
        if ("skipped" in next) return next;
        ctx.objectSendClient(certificateApi, ctx.key).issue({ domainId: req.domainId, certificateId: next.successorId });
        return next;
      }),

      /** Raises CertExpiring while the certificate is still current, that is no renewal has replaced it. */
      warnExpiring: shared({ ...INTERNAL, input: input(z.object({ certificateId: id, thresholdMs: z.number().int().nonnegative() })) }, async (ctx: restate.ObjectSharedContext, req): Promise<{ raised: boolean }> =>
        dbStep(ctx, "raise CertExpiring", db, (trx) => raiseCertExpiring(trx, req.certificateId)),
      ),
    },
  });
}

const issueRequest = z.object({ domainId: id, certificateId: id });

function stopped(req: IssueRequest, reason: string): IssueResult {
  return { certificateId: req.certificateId, status: "stopped", reason };
}

export type CertificateObject = ReturnType<typeof createCertificateObject>;
