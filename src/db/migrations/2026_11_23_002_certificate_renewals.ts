import { sql, type Kysely } from "kysely";

// A hostname keeps its issued certificate while the next one is ordered, so certificates are no
// longer one row per hostname: at most one *issued* certificate per hostname (a unique generated
// column, like custom_domains.verified_hostname), any number pending, failed or superseded.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table certificates
    drop index certificates_hostname_uq,
    add column issued_hostname varchar(253) character set ascii collate ascii_bin
      generated always as (case when status = 'issued' then hostname end) stored,
    add constraint certificates_issued_hostname_uq unique (issued_hostname),
    add index certificates_hostname_idx (hostname)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table certificates
    drop index certificates_hostname_idx,
    drop index certificates_issued_hostname_uq,
    drop column issued_hostname,
    add constraint certificates_hostname_uq unique (hostname)`.execute(db);
}
