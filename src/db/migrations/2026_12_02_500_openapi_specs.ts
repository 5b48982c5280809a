import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// OpenAPI specs scraped from deployments (src/openapi/). A document is stored once per content
// hash (`openapi_documents`, with its validation problems — they depend on the bytes only); each
// deployment's scrape (`openapi_specs`, one row per deployment) records what happened — published
// (a document), none (404) or refused (too large, a redirect off the instance, a timeout…) — and
// the environment's live deployment it replaced, for GetDiff's default baseline. Projects get
// their spec path and breaking-changes policy.

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`create table if not exists openapi_documents (
    hash char(64) character set ascii collate ascii_bin primary key,
    content mediumtext not null,
    content_type varchar(32) character set ascii collate ascii_bin not null,
    problems text not null,
    created_at datetime(3) not null default current_timestamp(3),
    constraint openapi_documents_problems_json check (json_valid(problems))
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
  async (db: Kysely<any>) =>
    sql`alter table openapi_specs
      drop column spec,
      add column outcome varchar(16) character set ascii collate ascii_bin not null default 'published',
      add column document_hash char(64) character set ascii collate ascii_bin null,
      add column spec_path varchar(255) character set ascii collate ascii_bin not null default '/openapi.yaml',
      add column detail varchar(1024) null,
      add column instance_id varchar(64) character set ascii collate ascii_bin null,
      add column baseline_deployment_id varchar(32) character set ascii collate ascii_bin null`.execute(db),
  async (db: Kysely<any>) =>
    sql`alter table openapi_specs add constraint openapi_specs_document_fk foreign key (document_hash) references openapi_documents (hash)`.execute(db),
  async (db: Kysely<any>) =>
    sql`alter table projects
      add column openapi_spec_path varchar(255) character set ascii collate ascii_bin not null default '/openapi.yaml',
      add column breaking_changes varchar(8) character set ascii collate ascii_bin not null default 'warn'`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`; a published document goes back into its deployment's row. */
export async function down(db: Kysely<any>): Promise<void> {
  const projects = await tableShape(db, "projects");
  await alterTableWith(db, "projects", [
    projects.columns.has("breaking_changes") && sql`drop column breaking_changes`,
    projects.columns.has("openapi_spec_path") && sql`drop column openapi_spec_path`,
  ]);
  const specs = await tableShape(db, "openapi_specs");
  if (specs.constraints.has("openapi_specs_document_fk")) await sql`alter table openapi_specs drop foreign key openapi_specs_document_fk`.execute(db);
  if (specs.columns.has("outcome")) {
    await sql`alter table openapi_specs add column spec mediumtext null`.execute(db);
    await sql`update openapi_specs s join openapi_documents d on d.hash = s.document_hash set s.spec = d.content`.execute(db);
    await sql`delete from openapi_specs where spec is null`.execute(db);
    await sql`alter table openapi_specs modify spec mediumtext not null`.execute(db);
    const after = await tableShape(db, "openapi_specs");
    await alterTableWith(db, "openapi_specs", [
      ...["outcome", "document_hash", "spec_path", "detail", "instance_id", "baseline_deployment_id"].map((c) => after.columns.has(c) && sql`drop column ${sql.ref(c)}`),
    ]);
    // MySQL keeps the index the foreign key needed.
    const left = await tableShape(db, "openapi_specs");
    if (left.indexes.has("openapi_specs_document_fk")) await sql`drop index openapi_specs_document_fk on openapi_specs`.execute(db);
  }
  await sql`drop table if exists openapi_documents`.execute(db);
}
