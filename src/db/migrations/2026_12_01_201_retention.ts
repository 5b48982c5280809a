import { sql, type Kysely } from "kysely";
import { tableShape } from "../schemaFacts.js";

// Retention of the feeds (src/db/retention.ts): `retention` remembers, per feed, the highest
// version (change) or id (event) pruned so far — a watcher resuming from below it has missed
// entries and must bootstrap again. Operations are pruned by age, over an index on created_at.
/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`create table if not exists retention (
    feed varchar(32) character set ascii collate ascii_bin primary key,
    pruned_through bigint unsigned not null default 0,
    pruned_at datetime(3) null
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
  async (db: Kysely<any>) => sql`insert ignore into retention (feed, pruned_through) values ('changes', 0), ('events', 0)`.execute(db),
  async (db: Kysely<any>) => sql`create index operations_created_idx on operations (created_at)`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if ((await tableShape(db, "operations")).indexes.has("operations_created_idx")) await sql`drop index operations_created_idx on operations`.execute(db);
  await sql`drop table if exists retention`.execute(db);
}
