import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// The certificate lifecycle: how many attempts an order has failed and when the next one is due
// (backoff, never a dead end), and a log of the orders each ACME account placed, so renewals due
// together stay inside the account's order budget (a sliding window, like the CA's own limit).

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`alter table certificates
      add column attempts int not null default 0,
      add column next_attempt_at datetime(3) null`.execute(db),
  async (db: Kysely<any>) =>
    sql`create table acme_orders (
      id varchar(32) character set ascii collate ascii_bin primary key,
      acme_user_id varchar(32) character set ascii collate ascii_bin not null,
      hostname varchar(253) character set ascii collate ascii_bin not null,
      placed_at datetime(3) not null,
      index acme_orders_account_time_idx (acme_user_id, placed_at),
      constraint acme_orders_account_fk foreign key (acme_user_id) references acme_users (id) on delete cascade
    ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("acme_orders").ifExists().execute();
  const certificates = await tableShape(db, "certificates");
  await alterTableWith(db, "certificates", [
    certificates.columns.has("next_attempt_at") && sql`drop column next_attempt_at`,
    certificates.columns.has("attempts") && sql`drop column attempts`,
  ]);
}
