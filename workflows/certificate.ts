/*
 * Certificate: one virtual object per hostname (key: the A-label hostname) that orders its
 * certificate from the ACME CA over HTTP-01, so two orders for a name never run at once.
 *
 *   load domain ─► ensure account ─► create order ─► publish challenge (MySQL, served on
 *   /.well-known/acme-challenge/) ─► tell the CA ─► wait for the authorization ─► generate key
 *   and CSR (key sealed into the certificate row) ─► finalize order ─► download certificate
 *   (chain stored, earlier one superseded) ─► attach to the gateway config (Project object)
 *   ─► TLSReady True ─► CertProvisioned
 *
 * Every step is named in the Restate UI. Only public material (URLs, the CSR) is journaled;
 * account and certificate keys are opened or generated inside a step and stored sealed.
 */
import * as restate from "@restatedev/restate-sdk";
import { ensureAccount } from "../src/acme/accounts.js";
import { acmeClient, caDetail, prepareKey, publishHttp01, storeChain, type Challenge, type Order } from "../src/acme/issuance.js";
import { appendEvents } from "../src/db/events.js";
import { fromJson, toJson } from "../src/db/schema.js";
import type { DomainCondition } from "../src/domain/domainConditions.js";
import { GateError } from "../src/domain/gates.js";
import { Vault } from "../src/vault/vault.js";
import type { WorkflowDeps } from "./deps.js";
import { domainApi } from "./domain.js";
import { projectApi } from "./project.js";
import { dbStep, step, toTerminal } from "./steps.js";

export interface IssueRequest {
  domainId: string;
  certificateId: string;
}

export function createCertificateObject(deps: WorkflowDeps) {
  const { db, config } = deps;
  const vault = config.masterKeys.length > 0 ? new Vault(config.masterKeys) : undefined;

  /** Records why the order failed on the certificate and in the domain's TLSReady condition. */
  async function fail(ctx: restate.ObjectContext, req: IssueRequest, message: string): Promise<never> {
    await dbStep(ctx, "record failure", db, async (trx) => {
      await trx.updateTable("certificates").set({ status: "failed", last_error: message }).where("id", "=", req.certificateId).execute();
      await setTlsReady(trx, req.domainId, { status: "False", reason: "IssuanceFailed", message });
    });
    throw new restate.TerminalError(message, { errorCode: 412 });
  }

  return restate.object({
    name: "Certificate",
    handlers: {
      issue: async (ctx: restate.ObjectContext, req: IssueRequest): Promise<{ certificateId: string; notAfter: string }> => {
        if (!vault) throw new restate.TerminalError("certificates need SWITCHYARD_MASTER_KEYS to encrypt their keys", { errorCode: 412 });
        const hostname = ctx.key;
        try {
          const domain = await step(ctx, "load domain", async () => {
            const row = await db.selectFrom("custom_domains").selectAll().where("id", "=", req.domainId).executeTakeFirst();
            if (!row || row.hostname !== hostname) throw new GateError("not_found", `domain ${req.domainId} not found`);
            if (row.status !== "verified") throw new GateError("failed_precondition", `domain ${row.hostname} is not verified`);
            if (!row.tls) throw new GateError("failed_precondition", `TLS is disabled for ${row.hostname}`);
            return { workspaceId: row.workspace_id, projectId: row.project_id, tenantId: row.tenant_id };
          });
          const accountId = await step(ctx, "ensure ACME account", async () => (await ensureAccount(db, vault, { scope: domain.workspaceId, directoryUrl: config.acmeDirectoryUrl })).account.id);
          const client = async () => acmeClient(vault, await db.selectFrom("acme_users").selectAll().where("id", "=", accountId).executeTakeFirstOrThrow());

          const order = await step(ctx, "create order", async () => (await client()).createOrder({ identifiers: [{ type: "dns", value: hostname }] }));
          const challenges = await step(ctx, "publish HTTP-01 challenge", async () => publishHttp01(db, await client(), order, { domainId: req.domainId, hostname }));
          for (const [i, challenge] of challenges.entries()) {
            await step(ctx, `tell the CA (challenge ${i + 1})`, async () => (await client()).completeChallenge(challenge).then(() => true));
            try {
              await step(ctx, `wait for the authorization (challenge ${i + 1})`, async () => (await client()).waitForValidStatus<Challenge>(challenge).then(() => true));
            } catch (error) {
              if (error instanceof restate.TerminalError) throw error;
              return await fail(ctx, req, `the CA could not validate ${hostname} over HTTP-01: ${caDetail(error)}`);
            }
          }
          const csr = await step(ctx, "generate key and CSR", () => prepareKey(db, vault, req.certificateId, hostname));
          const finalized = await step(ctx, "finalize order", async () => {
            const acme = await client();
            const current: Order = await acme.getOrder(order);
            return current.status === "valid" ? current : acme.finalizeOrder(current, csr);
          });
          const chain = await step(ctx, "download certificate", async () => (await client()).getCertificate(await (await client()).waitForValidStatus<Order>(finalized)));
          const stored = await dbStep(ctx, "store certificate", db, async (trx) => {
            const { notAfter } = await storeChain(trx, req.certificateId, chain);
            return { notAfter: notAfter.toISOString() };
          });
          // The gateway config names the certificate (through the project's lock).
          await ctx.objectClient(projectApi, domain.projectId).refreshGatewayConfigs({ hostnames: [hostname] });
          await dbStep(ctx, "mark TLS ready", db, async (trx) => {
            await setTlsReady(trx, req.domainId, { status: "True", reason: "CertificateIssued", message: `certificate ${req.certificateId} valid until ${stored.notAfter}` });
            await appendEvents(trx, [
              { tenantId: domain.tenantId, workspaceId: domain.workspaceId, type: "CertProvisioned", subject: req.certificateId, payload: { certificateId: req.certificateId, domainId: req.domainId, hostname, notAfter: stored.notAfter } },
            ]);
          });
          // Ready is an aggregate of the conditions: the domain's object recomputes it.
          ctx.objectSendClient(domainApi, req.domainId).verify({});
          return { certificateId: req.certificateId, notAfter: stored.notAfter };
        } catch (error) {
          throw toTerminal(error);
        }
      },
    },
  });
}

/** Sets the TLSReady condition of a domain (its transition time moves only on a change). */
async function setTlsReady(trx: Parameters<Parameters<typeof dbStep>[3]>[0], domainId: string, verdict: Pick<DomainCondition, "status" | "reason" | "message">): Promise<void> {
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
