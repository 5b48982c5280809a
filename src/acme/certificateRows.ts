import type { Kysely, Transaction } from "kysely";
import type { Config } from "../config.js";
import { newId } from "../db/ids.js";
import type { Certificate, Database } from "../db/schema.js";
import { challengeFor } from "./challengeChoice.js";

type Db = Kysely<Database> | Transaction<Database>;

/** The certificate to show for a domain: the issued one, else the newest attempt. */
export async function currentCertificate(db: Db, domain: { hostname: string; workspace_id: string }): Promise<Certificate | undefined> {
  return db
    .selectFrom("certificates")
    .selectAll()
    .where("hostname", "=", domain.hostname)
    .where("workspace_id", "=", domain.workspace_id)
    .orderBy((eb) => eb.case().when("status", "=", "issued").then(0).else(1).end())
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .executeTakeFirst();
}

/** Whether a domain needs a new order: nothing issued and valid, and no attempt under way. */
export function needsOrder(current: Certificate | undefined, now: Date = new Date()): boolean {
  if (!current) return true;
  if (current.status === "pending") return false;
  // A failed attempt has its retry scheduled already.
  if (current.status === "failed" && current.next_attempt_at !== null) return false;
  return !(current.status === "issued" && current.not_after !== null && current.not_after > now);
}

/** A new pending certificate row for a domain; the Certificate object's `issue` then orders it. */
export async function newCertificateRow(db: Db, domain: { id: string; hostname: string; workspace_id: string }): Promise<string> {
  const id = newId("crt");
  await db.insertInto("certificates").values({ id, hostname: domain.hostname, custom_domain_id: domain.id, workspace_id: domain.workspace_id, status: "pending" }).execute();
  return id;
}

/**
 * A verified TLS domain with no valid or pending certificate gets a new pending row (its
 * hostname and id returned, for the Certificate object to order); otherwise null. A wildcard
 * waits for its _acme-challenge delegation instead of failing attempt after attempt.
 *
 * The domain's status is read again under its row lock: the check that found it verified ran
 * in an earlier step, and RemoveDomain (which takes the same lock and deletes the domain's
 * certificates) may have run since — a row written after it would outlive the domain.
 */
export async function certificateToOrder(trx: Transaction<Database>, domainId: string, config: Config): Promise<{ hostname: string; certificateId: string } | null> {
  const domain = await trx.selectFrom("custom_domains").selectAll().where("id", "=", domainId).forUpdate().executeTakeFirst();
  if (!domain || domain.status !== "verified" || !domain.tls) return null;
  if (!needsOrder(await currentCertificate(trx, domain))) return null;
  if ("problem" in challengeFor(domain, config)) return null;
  return { hostname: domain.hostname, certificateId: await newCertificateRow(trx, domain) };
}
