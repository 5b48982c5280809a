// Every migration's `down` brings the schema back to exactly what it was before the migration:
// after a partial `up` (MySQL commits each DDL statement, so `up` can stop after any of them),
// after the whole `up`, when run twice, and after use — with rows the newer schema allows and
// the older one does not (two certificates for one hostname). Against a real MariaDB.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql, type Kysely, type Migration } from "kysely";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { newId } from "../../src/db/ids.js";
import { migrateDownAll, migrateToLatest } from "../../src/db/migrate.js";
import { migrations } from "../../src/db/migrations/index.js";
import type { Database } from "../../src/db/schema.js";
import { startMariaDb, type MariaDb } from "../harness/index.js";

type SteppedMigration = Migration & { steps?: ((db: Kysely<any>) => Promise<unknown>)[] };

/** Columns, indexes and constraints of every table, as information_schema describes them. */
async function schemaOf(db: Kysely<any>): Promise<Record<string, unknown[]>> {
  const query = async (q: ReturnType<typeof sql<Record<string, unknown>>>) => (await q.execute(db)).rows;
  return {
    columns: await query(sql`select table_name, column_name, column_type, is_nullable, column_default, extra, generation_expression, collation_name
      from information_schema.columns where table_schema = database() and table_name not like 'kysely\\_%' order by table_name, column_name`),
    indexes: await query(sql`select table_name, index_name, non_unique, seq_in_index, column_name
      from information_schema.statistics where table_schema = database() and table_name not like 'kysely\\_%' order by table_name, index_name, seq_in_index`),
    constraints: await query(sql`select table_name, constraint_name, constraint_type
      from information_schema.table_constraints where constraint_schema = database() and table_name not like 'kysely\\_%' order by table_name, constraint_name`),
  };
}

describe("migration downs", () => {
  let mariadb: MariaDb;
  const dbs: Kysely<any>[] = [];
  before(async () => {
    mariadb = await startMariaDb();
  });
  after(async () => {
    await Promise.all(dbs.map((db) => db.destroy()));
    await mariadb?.stop();
  });

  /** A database of its own on the shared server. */
  async function freshDatabase(name: string): Promise<Kysely<Database>> {
    const url = mariadb.url.replace(/\/[^/]+$/, `/${name}`);
    await ensureDatabase(url);
    const db = createDb(url, { poolSize: 4 });
    dbs.push(db);
    return db;
  }

  test("undo a partial up, a whole up, and run twice", async () => {
    const db = await freshDatabase("partial_ups");
    const names = Object.keys(migrations);
    for (const name of names) {
      const migration = migrations[name] as SteppedMigration;
      // The first migration creates every table, each with `if exists` on the way down; the
      // later ones say which statements their `up` is made of.
      const steps = migration.steps ?? [migration.up];
      const before = await schemaOf(db);
      for (let done = 0; done <= steps.length; done++) {
        for (const step of steps.slice(0, done)) await step(db);
        await migration.down!(db);
        assert.deepEqual(await schemaOf(db), before, `${name}: down after ${done} of ${steps.length} statements of up`);
        await migration.down!(db);
        assert.deepEqual(await schemaOf(db), before, `${name}: down run twice after ${done} of ${steps.length}`);
      }
      await migration.up(db);
    }
    assert.ok(names.slice(1).every((name) => (migrations[name] as SteppedMigration).steps), "every later migration lists its statements");
  });

  test("run after use: every down succeeds with rows the newer schema allows", async () => {
    const db = await freshDatabase("after_use");
    await migrateToLatest(db);
    const workspaceId = newId("ws");
    const projectId = newId("prj");
    const environmentId = newId("env");
    const deploymentId = newId("dep");
    await db.insertInto("workspaces").values({ id: workspaceId, tenant_id: "acme", slug: "used", name: "Used" }).execute();
    await db.insertInto("projects").values({ id: projectId, workspace_id: workspaceId, slug: "app", name: "App" }).execute();
    await db.insertInto("environments").values({ id: environmentId, project_id: projectId, slug: "production" }).execute();
    await db
      .insertInto("deployments")
      .values({ id: deploymentId, workspace_id: workspaceId, project_id: projectId, environment_id: environmentId, status: "ready", image: "registry.example/app:1", env: "{}" })
      .execute();
    // One hostname, three certificates: issued, the renewal being ordered, an old superseded one.
    const hostname = "shop.example.com";
    const certificate = (status: string) => ({ id: newId("crt"), hostname, workspace_id: workspaceId, status, attempts: 2, next_attempt_at: new Date() });
    const [issued, renewing, superseded] = [certificate("issued"), certificate("pending"), certificate("superseded")];
    await db.insertInto("certificates").values([issued, renewing, superseded]).execute();
    await db
      .insertInto("gateway_configs")
      .values({ hostname, workspace_id: workspaceId, project_id: projectId, deployment_id: deploymentId, config: "{}", certificate_id: renewing.id, version: 1 })
      .execute();
    const accountId = newId("acu");
    const key = Buffer.alloc(16, 1);
    await db
      .insertInto("acme_users")
      .values({ id: accountId, scope: workspaceId, directory_url: "https://ca.invalid/dir", key_ciphertext: key, key_nonce: key, key_tag: key, wrapped_data_key: key, master_key_id: "k1" })
      .execute();
    await db.insertInto("acme_orders").values({ id: newId("ord"), acme_user_id: accountId, hostname, placed_at: new Date() }).execute();

    // Down to the migration before the renewals: one certificate per hostname again, the issued one.
    const names = Object.keys(migrations);
    const renewals = names.indexOf("2026_11_23_002_certificate_renewals");
    for (const name of [...names].reverse().slice(0, names.length - renewals)) await migrations[name]!.down!(db);
    const left = await sql<{ id: string }>`select id from certificates where hostname = ${hostname}`.execute(db);
    assert.deepEqual(left.rows.map((r) => r.id), [issued.id], "the issued certificate is the one kept");
    const config = await sql<{ certificate_id: string | null }>`select certificate_id from gateway_configs where hostname = ${hostname}`.execute(db);
    assert.deepEqual(config.rows, [{ certificate_id: null }], "a gateway config loses the dropped certificate");
    for (const name of names.slice(renewals)) await migrations[name]!.up(db);

    // And all the way down and up again through the migrator, with the data in place.
    await sql`delete from certificates where id <> ${issued.id}`.execute(db);
    await db.insertInto("certificates").values([certificate("pending"), certificate("failed")]).execute();
    assert.deepEqual(await migrateDownAll(db), [...names].reverse());
    assert.deepEqual(await migrateToLatest(db), names);
  });
});
