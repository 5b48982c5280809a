import type { Kysely } from "kysely";
import { tableShape } from "../schemaFacts.js";

// Ownership checks are spread over time by counting the checks already due in each second
// (src/customDomains/checkSlots.ts): that count needs an index on the due time.

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [async (db: Kysely<any>) => db.schema.createIndex("custom_domains_next_check_idx").on("custom_domains").column("next_check_at").execute()];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  if ((await tableShape(db, "custom_domains")).indexes.has("custom_domains_next_check_idx")) {
    await db.schema.dropIndex("custom_domains_next_check_idx").on("custom_domains").execute();
  }
}
