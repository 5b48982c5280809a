import { sql, type Kysely } from "kysely";
import { alterTableWith, tableShape } from "../schemaFacts.js";

// What the agents need to run a deployment that the API did not carry before: how many
// instances per region, the path of their HTTP health check, and how long an instance may take to
// become healthy (NULL = the agent's default).

/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) =>
    sql`alter table deployments
      add column replicas int unsigned not null default 1,
      add column health_check_path varchar(255) character set utf8mb4 collate utf8mb4_bin null,
      add column startup_timeout_ms int unsigned null`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  const deployments = await tableShape(db, "deployments");
  await alterTableWith(db, "deployments", [
    deployments.columns.has("startup_timeout_ms") && sql`drop column startup_timeout_ms`,
    deployments.columns.has("health_check_path") && sql`drop column health_check_path`,
    deployments.columns.has("replicas") && sql`drop column replicas`,
  ]);
}
