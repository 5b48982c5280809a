import { sql, type Kysely } from "kysely";
import { generatedLabels } from "../../domain/generatedHostnames.js";

// owned-hostnames-only: the labels of generated hostnames (`<label>.<platform apex>`) each
// belong to one project, from the moment the project (or environment, or deployment) that
// generates them exists — not from its first deploy, so no other project can take them first.
// Labels, not full hostnames: the platform apex is configuration and may change.
//
// Existing projects get their live and environment labels here (the oldest project first when
// two would generate the same label), with the naming rules as they were when this ran.
/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`create table if not exists hostname_reservations (
    label varchar(63) character set ascii collate ascii_bin primary key,
    project_id varchar(32) character set ascii collate ascii_bin not null,
    created_at datetime(3) not null default current_timestamp(3),
    index hostname_reservations_project_idx (project_id),
    constraint hostname_reservations_project_fk foreign key (project_id) references projects (id) on delete cascade
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
  backfill,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

async function backfill(db: Kysely<any>): Promise<void> {
  const rows = await sql<{ project_id: string; project_slug: string; workspace_slug: string; environment_slug: string }>`
    select p.id as project_id, p.slug as project_slug, w.slug as workspace_slug, e.slug as environment_slug
      from projects p join workspaces w on w.id = p.workspace_id join environments e on e.project_id = p.id
     order by p.created_at, p.id, e.created_at`.execute(db);
  for (const row of rows.rows) {
    const labels = generatedLabels({ workspaceSlug: row.workspace_slug, projectSlug: row.project_slug, environmentSlugs: [row.environment_slug] });
    for (const label of labels) {
      await sql`insert ignore into hostname_reservations (label, project_id) values (${label}, ${row.project_id})`.execute(db);
    }
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists hostname_reservations`.execute(db);
}
