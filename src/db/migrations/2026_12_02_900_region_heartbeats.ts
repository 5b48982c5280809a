import { sql, type Kysely } from "kysely";

// What the per-region processes (agents, gateways) last told the control plane in Heartbeat:
// who they are, their build, how far they have applied their feed, and when (src/cluster/heartbeats.ts).

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`create table if not exists region_heartbeats (
    region varchar(64) character set ascii collate ascii_bin not null,
    process_id varchar(128) character set ascii collate ascii_bin not null,
    process_version varchar(64) character set utf8mb4 collate utf8mb4_bin not null default '',
    deployments_version bigint unsigned not null default 0,
    gateway_configs_version bigint unsigned not null default 0,
    first_seen_at datetime(3) not null default current_timestamp(3),
    last_seen_at datetime(3) not null default current_timestamp(3),
    constraint region_heartbeats_pk primary key (region, process_id),
    index region_heartbeats_last_seen (last_seen_at)
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists region_heartbeats`.execute(db);
}
