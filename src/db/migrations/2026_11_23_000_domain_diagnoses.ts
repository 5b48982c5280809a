import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// The problems the last ownership check found, with their fixes (JSON array of
// {problem, fix}), so GetDomain can show them between checks. The CHECK is a table constraint
// like every other JSON column's: on the column itself MariaDB would report the column as JSON
// and mysql2 would hand back parsed values instead of the text schema.ts promises.

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`alter table custom_domains
      add column diagnoses text not null default '[]',
      add constraint custom_domains_diagnoses_json check (json_valid(diagnoses))`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up` (DDL is not transactional: `up` may have stopped part-way). */
export async function down(db: Kysely<any>): Promise<void> {
  const domains = await tableShape(db, "custom_domains");
  await alterTableWith(db, "custom_domains", [
    domains.constraints.has("custom_domains_diagnoses_json") && sql`drop constraint custom_domains_diagnoses_json`,
    domains.columns.has("diagnoses") && sql`drop column diagnoses`,
  ]);
}
