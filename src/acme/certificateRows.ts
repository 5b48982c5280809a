import type { Kysely, Transaction } from "kysely";
import { newId } from "../db/ids.js";
import type { Certificate, Database } from "../db/schema.js";

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
