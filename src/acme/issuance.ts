import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import type { Kysely, Transaction } from "kysely";
import type { AcmeUser, Database } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { recordName } from "../vault/rotate.js";
import type { Vault } from "../vault/vault.js";
import { accountKey } from "./accounts.js";

// The steps of one certificate order (RFC 8555 §7.4), each small enough to be one journaled
// step of the Certificate object (workflows/certificate.ts). What goes into the journal is public
// (order and challenge URLs, the CSR); private keys are opened or generated inside a step and
// leave it only sealed, in MySQL.

export type Order = acme.Order;
export type Challenge = Awaited<ReturnType<acme.Client["getAuthorizations"]>>[number]["challenges"][number];

export function acmeClient(vault: Vault, account: AcmeUser): acme.Client {
  return new acme.Client({ directoryUrl: account.directory_url, accountKey: accountKey(vault, account), ...(account.registration_uri ? { accountUrl: account.registration_uri } : {}) });
}

/** The CA's problem detail of a failed call, for conditions and errors. */
export function caDetail(error: unknown): string {
  return (error as Error).message.replace(/\s+/g, " ").slice(0, 500);
}

/** How the CA is to see the proof: HTTP-01 on the hostname, or DNS-01 under the delegation target. */
export type ChallengeMethod = { type: "http-01" } | { type: "dns-01"; dnsName: string };

/**
 * Publishes the answer of every pending authorization of the order in the domain's challenge row
 * and returns the challenges to tell the CA about, with the authorization to poll. HTTP-01 is
 * served on /.well-known/acme-challenge/; DNS-01 (for a wildcard too) is answered by the
 * challenge-zone DNS server under the delegation target, and for it acme-client returns the TXT
 * value: base64url(SHA-256(key authorization)).
 */
export async function publishChallenges(
  db: Kysely<Database>,
  client: acme.Client,
  order: Order,
  input: { domainId: string; hostname: string; method: ChallengeMethod },
): Promise<Array<{ challenge: Challenge; authorizationUrl: string }>> {
  const { method } = input;
  const authorizations = await client.getAuthorizations(order);
  const pending: Array<{ challenge: Challenge; authorizationUrl: string }> = [];
  for (const authorization of authorizations) {
    if (authorization.status === "valid") continue;
    const challenge = authorization.challenges.find((c) => c.type === method.type);
    if (!challenge) throw new GateError("failed_precondition", `the CA offers no ${method.type} challenge for ${authorization.identifier.value}`);
    const answer = await client.getChallengeKeyAuthorization(challenge);
    const published = {
      type: method.type,
      token: challenge.token,
      key_authorization: answer,
      dns_name: method.type === "dns-01" ? method.dnsName : null,
      txt_value: method.type === "dns-01" ? answer : null,
      status: "pending",
    };
    await db
      .insertInto("acme_challenges")
      .values({ id: `chl_${challenge.token.slice(0, 24)}`, custom_domain_id: input.domainId, hostname: input.hostname, ...published })
      // One challenge row per domain: a later order (a renewal) replaces the earlier answer.
      .onDuplicateKeyUpdate(published)
      .execute();
    pending.push({ challenge, authorizationUrl: authorization.url });
  }
  return pending;
}

/**
 * Generates the certificate's key and CSR; the key is sealed into the (pending) certificate row
 * in the same step, so a retry after a crash finds it there instead of making another.
 */
export async function prepareKey(db: Kysely<Database>, vault: Vault, certificateId: string, hostname: string): Promise<string> {
  const row = await db.selectFrom("certificates").selectAll().where("id", "=", certificateId).executeTakeFirst();
  if (!row) throw certificateGone(certificateId);
  let key: Buffer;
  if (row.key_ciphertext && row.key_nonce && row.key_tag && row.wrapped_data_key && row.master_key_id) {
    key = vault.open({ key_ciphertext: row.key_ciphertext, key_nonce: row.key_nonce, key_tag: row.key_tag, wrapped_data_key: row.wrapped_data_key, master_key_id: row.master_key_id }, recordName("certificates", certificateId));
  } else {
    key = await acme.crypto.createPrivateEcdsaKey("P-256");
    await db.updateTable("certificates").set(vault.seal(key, recordName("certificates", certificateId))).where("id", "=", certificateId).execute();
  }
  try {
    const [, csr] = await acme.crypto.createCsr({ commonName: hostname, altNames: [hostname] }, key);
    return csr.toString();
  } finally {
    key.fill(0);
  }
}

/**
 * Stores the issued chain, with its validity and renewal time (two thirds into its lifetime);
 * the hostname's earlier certificates are superseded in the same transaction.
 */
export async function storeChain(trx: Transaction<Database>, certificateId: string, pemChain: string): Promise<{ notAfter: Date }> {
  const leaf = new X509Certificate(pemChain);
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const renewAt = new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
  const row = await trx.selectFrom("certificates").select(["hostname"]).where("id", "=", certificateId).forUpdate().executeTakeFirst();
  if (!row) throw certificateGone(certificateId);
  await trx.updateTable("certificates").set({ status: "superseded" }).where("hostname", "=", row.hostname).where("status", "=", "issued").where("id", "<>", certificateId).execute();
  await trx
    .updateTable("certificates")
    .set({ status: "issued", pem_chain: pemChain, not_before: notBefore, not_after: notAfter, renew_at: renewAt, issuer: leaf.issuer.split("\n").join(", "), last_error: null })
    .where("id", "=", certificateId)
    .execute();
  await trx.updateTable("acme_challenges").set({ status: "valid" }).where("hostname", "=", row.hostname).where("status", "=", "pending").execute();
  return { notAfter };
}

/** The certificate row was deleted under an order (its domain was removed): the order ends. */
function certificateGone(certificateId: string): GateError {
  return new GateError("not_found", `certificate ${certificateId} no longer exists`);
}
