import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// Builds from git (src/build/): each stage of a deployment's building phase (fetch, build, push,
// or resolve) is a row with its status and log tail; a git source may name the directory of the
// repository that holds its Containerfile (a monorepo's app).

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`create table if not exists build_steps (
    deployment_id varchar(32) character set ascii collate ascii_bin not null,
    name varchar(32) character set ascii collate ascii_bin not null,
    position int unsigned not null,
    status varchar(32) character set ascii collate ascii_bin not null,
    started_at datetime(3) not null default current_timestamp(3),
    ended_at datetime(3) null,
    log_tail text null,
    error text null,
    constraint build_steps_pk primary key (deployment_id, name),
    constraint build_steps_deployment_fk foreign key (deployment_id) references deployments (id) on delete cascade
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
  async (db: Kysely<any>) => sql`alter table deployments add column git_directory varchar(255) character set utf8mb4 collate utf8mb4_bin null`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  const deployments = await tableShape(db, "deployments");
  await alterTableWith(db, "deployments", [deployments.columns.has("git_directory") && sql`drop column git_directory`]);
  await sql`drop table if exists build_steps`.execute(db);
}
