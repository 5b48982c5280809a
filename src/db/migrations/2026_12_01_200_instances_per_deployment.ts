import { sql, type Kysely } from "kysely";
import { tableShape } from "../schemaFacts.js";

// Instances are keyed by (deployment, region, instance id): an instance id is chosen by an agent
// and means something only within the deployment it reports, so a report for one deployment can
// never touch another deployment's rows (issue 10 item 1). The primary key's prefix serves the
// deployment foreign key, so the former (deployment_id, region) index goes.
//
// deployment_topology.reported_version is the `observed_version` of the last status report
// applied for that deployment and region: an older report arriving late is ignored.
/** The statements of `up`, in order (a test stops after each to check `down`). */
export const steps = [
  async (db: Kysely<any>) => sql`alter table instances drop primary key, add primary key (deployment_id, region, id)`.execute(db),
  async (db: Kysely<any>) => sql`alter table instances drop index instances_deployment_region_idx`.execute(db),
  async (db: Kysely<any>) => sql`alter table deployment_topology add column reported_version bigint unsigned not null default 0`.execute(db),
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const step of steps) await step(db);
}

/** Undoes what exists of `up`. */
export async function down(db: Kysely<any>): Promise<void> {
  if ((await tableShape(db, "deployment_topology")).columns.has("reported_version")) {
    await sql`alter table deployment_topology drop column reported_version`.execute(db);
  }
  // The foreign key needs its own index again before the primary key loses deployment_id.
  if (!(await tableShape(db, "instances")).indexes.has("instances_deployment_region_idx")) {
    await sql`create index instances_deployment_region_idx on instances (deployment_id, region)`.execute(db);
  }
  if (await primaryKeyIsComposite(db)) {
    // Ids that are now unique only per deployment keep one row each under the old key.
    await sql`delete later from instances later join instances earlier
      on later.id = earlier.id and (later.deployment_id > earlier.deployment_id or (later.deployment_id = earlier.deployment_id and later.region > earlier.region))`.execute(db);
    await sql`alter table instances drop primary key, add primary key (id)`.execute(db);
  }
}

async function primaryKeyIsComposite(db: Kysely<any>): Promise<boolean> {
  const rows = await sql`select column_name from information_schema.statistics where table_schema = database() and table_name = 'instances' and index_name = 'PRIMARY'`.execute(db);
  return rows.rows.length > 1;
}
