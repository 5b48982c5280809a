import type { Kysely } from "kysely";

// Ownership checks are spread over time by counting the checks already due in each second
// (src/ownership/checkSlots.ts): that count needs an index on the due time.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("custom_domains_next_check_idx").on("custom_domains").column("next_check_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("custom_domains_next_check_idx").on("custom_domains").execute();
}
