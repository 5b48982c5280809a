import { sql, type Kysely } from "kysely";

// The certificate lifecycle: how many attempts an order has failed and when the next one is due
// (backoff, never a dead end), and a log of the orders each ACME account placed, so renewals due
// together stay inside the account's order budget (a sliding window, like the CA's own limit).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table certificates
    add column attempts int not null default 0,
    add column next_attempt_at datetime(3) null`.execute(db);
  await sql`create table acme_orders (
    id varchar(32) character set ascii collate ascii_bin primary key,
    acme_user_id varchar(32) character set ascii collate ascii_bin not null,
    hostname varchar(253) character set ascii collate ascii_bin not null,
    placed_at datetime(3) not null,
    index acme_orders_account_time_idx (acme_user_id, placed_at),
    constraint acme_orders_account_fk foreign key (acme_user_id) references acme_users (id) on delete cascade
  ) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table acme_orders`.execute(db);
  await sql`alter table certificates drop column next_attempt_at, drop column attempts`.execute(db);
}
