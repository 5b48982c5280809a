import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// A hostname keeps its issued certificate while the next one is ordered, so certificates are no
// longer one row per hostname: at most one *issued* certificate per hostname (a unique generated
// column, like custom_domains.verified_hostname), any number pending, failed or superseded.

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`alter table certificates
      drop index certificates_hostname_uq,
      add column issued_hostname varchar(253) character set ascii collate ascii_bin
        generated always as (case when status = 'issued' then hostname end) stored,
      add constraint certificates_issued_hostname_uq unique (issued_hostname),
      add index certificates_hostname_idx (hostname)`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/**
 * Undoes what exists of `up`. The old schema holds one certificate per hostname, so once a
 * hostname has several rows only the best stays: the issued one, else the most recently updated
 * (gateway configs that pointed at a dropped row lose it: ON DELETE SET NULL).
 */
export async function down(db: Kysely<any>): Promise<void> {
  const certificates = await tableShape(db, "certificates");
  await alterTableWith(db, "certificates", [
    certificates.indexes.has("certificates_hostname_idx") && sql`drop index certificates_hostname_idx`,
    certificates.indexes.has("certificates_issued_hostname_uq") && sql`drop index certificates_issued_hostname_uq`,
    certificates.columns.has("issued_hostname") && sql`drop column issued_hostname`,
  ]);
  if (certificates.indexes.has("certificates_hostname_uq")) return;
  await sql`delete worse from certificates worse
    join certificates better on better.hostname = worse.hostname and better.id <> worse.id
      and ((better.status = 'issued') > (worse.status = 'issued')
        or ((better.status = 'issued') = (worse.status = 'issued')
          and (better.updated_at > worse.updated_at or (better.updated_at = worse.updated_at and better.id > worse.id))))`.execute(db);
  await sql`alter table certificates add constraint certificates_hostname_uq unique (hostname)`.execute(db);
}
