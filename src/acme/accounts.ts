import * as acme from "acme-client";
import type { Kysely } from "kysely";
import { isDuplicateKey } from "../db/errors.js";
import { newId } from "../db/ids.js";
import type { AcmeUser, Database } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { recordName } from "../vault/rotate.js";
import type { Vault } from "../vault/vault.js";

/** The account's private key, opened from the vault (never stored or passed on in plaintext). */
export function accountKey(vault: Vault, row: AcmeUser): Buffer {
  return vault.open(row, recordName("acme_users", row.id));
}

/**
 * The ACME account of a scope (a workspace id, or "platform") at a CA: the stored one, or a new
 * one registered now with a fresh P-256 key that is sealed before it is stored. Two callers
 * racing on first use may both register at the CA; the unique (scope, directory) row keeps one,
 * and the loser returns it.
 */
export async function ensureAccount(
  db: Kysely<Database>,
  vault: Vault,
  input: { scope: string; directoryUrl: string; email?: string },
): Promise<{ account: AcmeUser; created: boolean }> {
  const find = () => db.selectFrom("acme_users").selectAll().where("scope", "=", input.scope).where("directory_url", "=", input.directoryUrl).executeTakeFirst();
  const existing = await find();
  if (existing) return { account: existing, created: false };

  const key = await acme.crypto.createPrivateEcdsaKey("P-256");
  try {
    const client = new acme.Client({ directoryUrl: input.directoryUrl, accountKey: key });
    try {
      await client.createAccount({ termsOfServiceAgreed: true, ...(input.email ? { contact: [`mailto:${input.email}`] } : {}) });
    } catch (error) {
      throw new GateError("failed_precondition", `the CA refused the account: ${(error as Error).message}`);
    }
    const id = newId("acu");
    try {
      await db
        .insertInto("acme_users")
        .values({ id, scope: input.scope, directory_url: input.directoryUrl, email: input.email ?? null, registration_uri: client.getAccountUrl(), ...vault.seal(key, recordName("acme_users", id)) })
        .execute();
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return { account: (await find())!, created: false };
    }
    return { account: (await find())!, created: true };
  } finally {
    key.fill(0);
  }
}
