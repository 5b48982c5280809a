import type { Kysely } from "kysely";
import type { Database, EncryptedKeyColumns } from "../db/schema.js";
import type { Vault } from "./vault.js";

const BATCH = 100;

/** Record names the vault binds ciphertexts to; every table holding sealed keys is listed here. */
export const SEALED_TABLES = ["acme_users", "certificates"] as const;
export type SealedTable = (typeof SEALED_TABLES)[number];

export const recordName = (table: SealedTable, id: string) => `${table}/${id}`;

/**
 * Re-seals every private key that is not under the vault's current master key (after a new key
 * was put first in SWITCHYARD_MASTER_KEYS). Each record is rewritten only if it is still sealed
 * as read, so a concurrent writer is never overwritten. Returns how many records each table had
 * re-sealed.
 */
export async function resealAll(db: Kysely<Database>, vault: Vault): Promise<Record<SealedTable, number>> {
  const counts = { acme_users: 0, certificates: 0 };
  for (const table of SEALED_TABLES) {
    for (let after = ""; ; ) {
      const rows = (await db
        .selectFrom(table)
        .select(["id", "key_ciphertext", "key_nonce", "key_tag", "wrapped_data_key", "master_key_id"])
        .where("master_key_id", "is not", null)
        .where("master_key_id", "<>", vault.currentKeyId)
        .where("id", ">", after)
        .orderBy("id")
        .limit(BATCH)
        .execute()) as ({ id: string } & EncryptedKeyColumns)[];
      if (rows.length === 0) break;
      for (const row of rows) {
        const plaintext = vault.open(row, recordName(table, row.id));
        try {
          const sealed = vault.seal(plaintext, recordName(table, row.id));
          const result = await db
            .updateTable(table)
            .set(sealed)
            .where("id", "=", row.id)
            .where("master_key_id", "=", row.master_key_id)
            .where("key_nonce", "=", row.key_nonce)
            .executeTakeFirst();
          counts[table] += Number(result.numUpdatedRows);
        } finally {
          plaintext.fill(0);
        }
      }
      after = rows.at(-1)!.id;
    }
  }
  return counts;
}
