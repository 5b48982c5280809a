import { sql, type Kysely } from "kysely";

// The problems the last ownership check found, with their fixes (JSON array of
// {problem, fix}), so GetDomain can show them between checks. The CHECK is a table constraint
// like every other JSON column's: on the column itself MariaDB would report the column as JSON
// and mysql2 would hand back parsed values instead of the text schema.ts promises.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table custom_domains
    add column diagnoses text not null default '[]',
    add constraint custom_domains_diagnoses_json check (json_valid(diagnoses))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table custom_domains drop constraint custom_domains_diagnoses_json, drop column diagnoses`.execute(db);
}
