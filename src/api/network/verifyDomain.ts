import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely, Transaction } from "kysely";
import type { Config } from "../../config.js";
import { appendEvents, type NewEvent } from "../../db/events.js";
import { fromJson, toJson, type CustomDomain, type Database } from "../../db/schema.js";
import type { DnsProbe } from "../../dns/dnsProbe.js";
import { customDomainName } from "../../domain/customDomainName.js";
import type { DomainCondition } from "../../domain/domainConditions.js";
import { ACME_CHALLENGE_LABEL, acmeDelegationTarget, VERIFICATION_LABEL, verificationValue } from "../../domain/domainRecords.js";
import { evaluateOwnership, type CheckResult, type Expected, type Observation } from "../../domain/ownershipCheck.js";
import { VerifyDomainResponseSchema, type VerifyDomainRequest } from "../../gen/ctrl/v1/network_pb.js";
import { principalOf } from "../auth.js";
import { notFound } from "../errors.js";
import type { ApiDeps } from "../server.js";
import { requireId } from "../tenancy.js";
import { domainToProto } from "./domainToProto.js";

// VerifyDomain: one ownership check now (DNS lookups bounded by SWITCHYARD_DNS_TIMEOUT), then,
// under the domain's row lock, the conditions, the diagnoses and the claim's status.
//
//   proof found, nobody verified ──────────────────► verified            (DomainVerified)
//   TXT proof, another tenant verified ─────────────► verified, theirs revoked (DomainClaimRevoked to both)
//   other proof, another tenant verified ───────────► stays pending, with a diagnosis
//   verified, OwnershipVerified True → False ────────► stays verified     (DomainOwnershipLost)

function expectationsOf(row: CustomDomain, config: Config): Expected {
  const name = customDomainName(row.hostname, { wildcard: row.wildcard, platformApex: config.platformApex });
  if ("problem" in name) throw new Error(`stored hostname ${row.hostname} no longer passes its checks: ${name.problem}`);
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
  };
}

async function observe(db: Kysely<Database>, dns: DnsProbe, row: CustomDomain, expected: Expected): Promise<Observation> {
  const now = new Date();
  const [verificationTxt, hostnameTxt, mainCname, addresses, delegationCname, delegationTxt, certificate, target] = await Promise.all([
    dns.txt(expected.verificationName),
    dns.txt(expected.baseHostname),
    expected.apex ? Promise.resolve({ kind: "absent" as const }) : dns.cname(expected.hostname),
    expected.apex ? dns.addresses(expected.baseHostname) : Promise.resolve({ kind: "absent" as const }),
    dns.cname(expected.delegationName),
    dns.txt(expected.delegationName),
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
  return { verificationTxt, hostnameTxt, mainCname, addresses, delegationCname, delegationTxt, certificateValid: certificate !== undefined, target };
}

/** Whether the environment has something to serve: the live deployment in production, a ready one elsewhere. */
async function targetOf(db: Kysely<Database>, row: CustomDomain): Promise<{ ready: boolean; message: string }> {
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

/** Applies a check under the row lock; returns the updated row. */
async function applyCheck(trx: Transaction<Database>, row: CustomDomain, result: CheckResult, previous: readonly DomainCondition[]): Promise<void> {
  const events: NewEvent[] = [];
  const diagnoses = [...result.diagnoses];
  let status = row.status;
  let verifiedAt = row.verified_at;
  const event = (tenantId: string, workspaceId: string, type: string, subject: string, payload: object): NewEvent => ({
    tenantId,
    workspaceId,
    type,
    subject,
    payload: { domainId: subject, hostname: row.hostname, ...payload },
  });

  if (result.ownership === "True" && (row.status === "pending" || row.status === "revoked")) {
    const owner = await trx.selectFrom("custom_domains").selectAll().where("verified_hostname", "=", row.hostname).forUpdate().executeTakeFirst();
    if (owner && !result.proofs.includes("txt")) {
      diagnoses.push({
        problem: `${row.hostname} is verified by another account; only the TXT record proves a takeover`,
        fix: `create the TXT record at _switchyard-challenge.${row.hostname.replace(/^\*\./, "")} shown in the required records`,
      });
    } else {
      if (owner) {
        await trx.updateTable("custom_domains").set({ status: "revoked", verified_at: null }).where("id", "=", owner.id).execute();
        events.push(event(owner.tenant_id, owner.workspace_id, "DomainClaimRevoked", owner.id, { reason: "another account proved control with its TXT record" }));
        events.push(event(row.tenant_id, row.workspace_id, "DomainClaimRevoked", row.id, { revokedDomainId: owner.id, reason: "your TXT proof took the hostname over" }));
      }
      status = "verified";
      verifiedAt = new Date();
      events.push(event(row.tenant_id, row.workspace_id, "DomainVerified", row.id, { proofs: result.proofs }));
    }
  }
  const wasTrue = previous.find((c) => c.type === "OwnershipVerified")?.status === "True";
  if (row.status === "verified" && wasTrue && result.ownership === "False") {
    events.push(event(row.tenant_id, row.workspace_id, "DomainOwnershipLost", row.id, {}));
  }

  await trx
    .updateTable("custom_domains")
    .set({ status, verified_at: verifiedAt, conditions: toJson(result.conditions), diagnoses: toJson(diagnoses) })
    .where("id", "=", row.id)
    .execute();
  if (events.length > 0) await appendEvents(trx, events);
}

export function verifyDomain({ db, config, dns }: ApiDeps) {
  return async (req: VerifyDomainRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const { tenantId } = principalOf(context);
    const load = (conn: Kysely<Database> | Transaction<Database>, lock: boolean) => {
      let query = conn.selectFrom("custom_domains").selectAll().where("id", "=", req.domainId).where("tenant_id", "=", tenantId).where("status", "<>", "removed");
      if (lock) query = query.forUpdate();
      return query.executeTakeFirst();
    };
    const before = await load(db, false);
    if (!before) throw notFound("domain", req.domainId);
    const expected = expectationsOf(before, config);
    // DNS first, outside any transaction: no row stays locked while a lookup waits.
    const seen = await observe(db, dns, before, expected);
    const row = await db.transaction().execute(async (trx) => {
      const current = await load(trx, true);
      if (!current) throw notFound("domain", req.domainId);
      const previous = fromJson<DomainCondition[]>(current.conditions);
      await applyCheck(trx, current, evaluateOwnership(expected, seen, previous, new Date()), previous);
      return trx.selectFrom("custom_domains").selectAll().where("id", "=", current.id).executeTakeFirstOrThrow();
    });
    return create(VerifyDomainResponseSchema, { domain: domainToProto(row, config) });
  };
}
