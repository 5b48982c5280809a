// Migrations and the schema's invariants against a real MariaDB (private instance, never :3306).
// Run: node --import tsx --test test/db/migrations.test.ts

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sql, type Kysely } from "kysely";
import { appendChanges, changeReservation, currentChangeVersion, readChanges } from "../../src/db/changes.js";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { isCheckViolation, isDuplicateKey, isForeignKeyViolation, duplicateKeyName } from "../../src/db/errors.js";
import { appendEvents, eventReservation, readEvents } from "../../src/db/events.js";
import { reserve } from "../../src/db/sequences.js";
import { isId, newId } from "../../src/db/ids.js";
import { migrateDown, migrateDownAll, migrateToLatest, migrationStatus } from "../../src/db/migrate.js";
import { migrations } from "../../src/db/migrations/index.js";
import type { Database } from "../../src/db/schema.js";
import { startMariaDb, type MariaDb } from "../harness/index.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: MariaDb;
let db: Kysely<Database>;

async function tableNames(): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = database() order by table_name`.execute(db);
  return result.rows.map((r) => r.name);
}

const duplicateKey = isDuplicateKey;
const checkFailed = isCheckViolation;
const stillReferenced = isForeignKeyViolation;

interface Fixture {
  workspaceId: string;
  projectId: string;
  environmentId: string;
  deploymentId: string;
}

async function fixture(tenantId = "acme"): Promise<Fixture> {
  const workspaceId = newId("ws");
  const projectId = newId("prj");
  const environmentId = newId("env");
  const deploymentId = newId("dep");
  await db.insertInto("workspaces").values({ id: workspaceId, tenant_id: tenantId, slug: workspaceId.replace("_", "-"), name: "W" }).execute();
  await db.insertInto("projects").values({ id: projectId, workspace_id: workspaceId, slug: "app", name: "App" }).execute();
  await db.insertInto("environments").values({ id: environmentId, project_id: projectId, slug: "production" }).execute();
  await db
    .insertInto("deployments")
    .values({
      id: deploymentId,
      workspace_id: workspaceId,
      project_id: projectId,
      environment_id: environmentId,
      status: "pending",
      image: "registry.example/app:1",
      command: JSON.stringify(["node", "server.js"]),
      env: JSON.stringify({ PORT: "8080" }),
      port: 8080,
    })
    .execute();
  return { workspaceId, projectId, environmentId, deploymentId };
}

function customDomain(f: Fixture, tenantId: string, hostname: string, status: "pending" | "verified" | "revoked" | "removed" = "pending") {
  return {
    id: newId("dom"),
    tenant_id: tenantId,
    workspace_id: f.workspaceId,
    project_id: f.projectId,
    environment_id: f.environmentId,
    hostname,
    unicode_hostname: hostname,
    wildcard: hostname.startsWith("*."),
    verification_token: `tok-${Math.random().toString(36).slice(2)}`,
    cname_target: `${hostname.replace(/^\*\./, "wildcard.")}.cname.switchyard.app`,
    status,
    conditions: "[]",
  };
}

before(async () => {
  server = await startMariaDb();
  await ensureDatabase(server.url); // exists already: must be a no-op
  db = createDb(server.url, { poolSize: 25 });
});

after(async () => {
  await db?.destroy();
  await server?.stop();
});

describe("migrations", () => {
  test("up, down, up run cleanly", async () => {
    const names = Object.keys(migrations);
    assert.deepEqual(await migrateToLatest(db), names);
    const tables = await tableNames();
    for (const t of ["workspaces", "projects", "routes", "gateway_configs", "custom_domains", "changes", "events", "sequences"]) {
      assert.ok(tables.includes(t), `table ${t} exists`);
    }
    assert.deepEqual(await migrateToLatest(db), [], "second run is a no-op");

    assert.deepEqual(await migrateDownAll(db), [...names].reverse());
    assert.deepEqual(
      (await tableNames()).filter((t) => !t.startsWith("kysely_")),
      [],
      "down removes every table it created",
    );
    assert.deepEqual(await migrateDown(db, 3), [], "nothing left to revert");

    assert.deepEqual(await migrateToLatest(db), names);
    const status = await migrationStatus(db);
    assert.ok(status.every((m) => m.executedAt instanceof Date));
    assert.equal(await currentChangeVersion(db), 0);
  });
});

describe("schema", () => {
  test("ids are prefixed lowercase ULIDs", () => {
    const id = newId("dep");
    assert.match(id, /^dep_[0-9a-z]{26}$/);
    assert.ok(isId(id, "dep"));
    assert.ok(newId("dep") > id, "monotonic within a process");
    assert.throws(() => newId("Deployment"));
  });

  test("types round-trip: booleans, UTC datetimes, JSON text", async () => {
    const f = await fixture();
    const project = await db.selectFrom("projects").selectAll().where("id", "=", f.projectId).executeTakeFirstOrThrow();
    assert.equal(project.is_rolled_back, false);
    assert.ok(project.created_at instanceof Date);
    assert.ok(Math.abs(project.created_at.getTime() - Date.now()) < 60_000, "CURRENT_TIMESTAMP default is UTC");

    const when = new Date("2026-03-29T01:30:00.123Z");
    await db.insertInto("deployment_steps").values({ deployment_id: f.deploymentId, phase: "build", status: "done", started_at: when }).execute();
    const step = await db.selectFrom("deployment_steps").selectAll().where("deployment_id", "=", f.deploymentId).executeTakeFirstOrThrow();
    assert.equal(step.started_at.toISOString(), when.toISOString());

    const dep = await db.selectFrom("deployments").select(["command", "env"]).where("id", "=", f.deploymentId).executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(dep.command!), ["node", "server.js"]);
    await assert.rejects(
      db.updateTable("deployments").set({ env: "{not json" }).where("id", "=", f.deploymentId).execute(),
      checkFailed,
      "malformed JSON is rejected by the CHECK",
    );
  });

  test("with several statements allowed per query (the feed's round trip), a value that reads as a second statement stays a value", async () => {
    const f = await fixture();
    const hostile = `x'); DELETE FROM deployments; -- \\'; DROP TABLE projects; #`;
    await db.updateTable("deployments").set({ git_branch: hostile }).where("id", "=", f.deploymentId).execute();
    const stored = await db.selectFrom("deployments").select("git_branch").where("id", "=", f.deploymentId).executeTakeFirstOrThrow();
    assert.equal(stored.git_branch, hostile);
    assert.equal(Number((await db.selectFrom("projects").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n) > 0, true);
    assert.equal(Number((await db.selectFrom("deployments").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n) > 0, true);
  });

  test("deployment idempotency keys: unique per project when given, any number of NULLs", async () => {
    const f = await fixture();
    const base = { workspace_id: f.workspaceId, project_id: f.projectId, environment_id: f.environmentId, status: "pending" };
    await db.insertInto("deployments").values({ ...base, id: newId("dep"), idempotency_key: null }).execute();
    await db.insertInto("deployments").values({ ...base, id: newId("dep"), idempotency_key: null }).execute();
    await db.insertInto("deployments").values({ ...base, id: newId("dep"), idempotency_key: "k1" }).execute();
    await assert.rejects(db.insertInto("deployments").values({ ...base, id: newId("dep"), idempotency_key: "k1" }).execute(), duplicateKey);
  });

  test("two routes with one hostname fail", async () => {
    const f = await fixture();
    const route = {
      workspace_id: f.workspaceId,
      project_id: f.projectId,
      environment_id: f.environmentId,
      deployment_id: f.deploymentId,
      sticky: "branch" as const,
    };
    await db.insertInto("routes").values({ ...route, id: newId("rte"), hostname: "main-app.switchyard.app" }).execute();
    await assert.rejects(
      db.insertInto("routes").values({ ...route, id: newId("rte"), hostname: "main-app.switchyard.app" }).execute(),
      duplicateKey,
    );
    await assert.rejects(
      db.insertInto("routes").values({ ...route, id: newId("rte"), hostname: "x.switchyard.app", sticky: "sideways" as never }).execute(),
      checkFailed,
      "sticky level outside the enum is rejected",
    );
    await assert.rejects(
      db.deleteFrom("deployments").where("id", "=", f.deploymentId).execute(),
      stillReferenced,
      "a routed deployment cannot be deleted",
    );
  });

  test("one verified owner per hostname; pending claims may coexist", async () => {
    const a = await fixture("tenant-a");
    const b = await fixture("tenant-b");
    const host = "api.example.com";
    const claimA = customDomain(a, "tenant-a", host);
    const claimB = customDomain(b, "tenant-b", host);
    await db.insertInto("custom_domains").values(claimA).execute();
    await db.insertInto("custom_domains").values(claimB).execute();

    await db.updateTable("custom_domains").set({ status: "verified", verified_at: new Date() }).where("id", "=", claimA.id).execute();
    await assert.rejects(
      db.updateTable("custom_domains").set({ status: "verified", verified_at: new Date() }).where("id", "=", claimB.id).execute(),
      duplicateKey,
    );
    await assert.rejects(db.insertInto("custom_domains").values(customDomain(b, "tenant-b", host, "verified")).execute(), (err) => {
      assert.equal(duplicateKeyName(err), "custom_domains_verified_hostname_uq");
      return true;
    });

    // Takeover: the old owner is revoked and the new one verified in one transaction.
    await db.transaction().execute(async (trx) => {
      await trx.updateTable("custom_domains").set({ status: "revoked" }).where("id", "=", claimA.id).execute();
      await trx.updateTable("custom_domains").set({ status: "verified" }).where("id", "=", claimB.id).execute();
    });
    const rows = await db.selectFrom("custom_domains").select(["id", "status", "verified_hostname"]).where("hostname", "=", host).execute();
    assert.deepEqual(
      rows.filter((r) => r.verified_hostname !== null).map((r) => r.id),
      [claimB.id],
    );
  });

  test("a tenant holds one live claim per hostname; removal frees it", async () => {
    const f = await fixture("tenant-c");
    const first = customDomain(f, "tenant-c", "*.shop.example");
    await db.insertInto("custom_domains").values(first).execute();
    await assert.rejects(db.insertInto("custom_domains").values(customDomain(f, "tenant-c", "*.shop.example")).execute(), duplicateKey);
    await assert.rejects(
      db.insertInto("custom_domains").values({ ...customDomain(f, "tenant-c", "shop.example"), wildcard: true }).execute(),
      checkFailed,
      "wildcard flag must match the *. label",
    );
    await db.updateTable("custom_domains").set({ status: "removed", removed_at: new Date() }).where("id", "=", first.id).execute();
    await db
      .insertInto("domain_tombstones")
      .values({ hostname: "*.shop.example", tenant_id: "tenant-c", custom_domain_id: first.id, expires_at: new Date(Date.now() + 86_400_000) })
      .execute();
    await db.insertInto("custom_domains").values(customDomain(f, "tenant-c", "*.shop.example")).execute();
    await assert.rejects(
      db.insertInto("domain_tombstones").values({ hostname: "*.shop.example", tenant_id: "tenant-d", expires_at: new Date() }).execute(),
      duplicateKey,
    );
  });

  test("certificate keys are stored whole or not at all", async () => {
    await db.insertInto("certificates").values({ id: newId("crt"), hostname: "pending.example.com", status: "pending" }).execute();
    await assert.rejects(
      db
        .insertInto("certificates")
        .values({ id: newId("crt"), hostname: "half.example.com", status: "issued", key_ciphertext: Buffer.from("x") })
        .execute(),
      checkFailed,
    );
    const id = newId("crt");
    await db
      .insertInto("certificates")
      .values({
        id,
        hostname: "whole.example.com",
        status: "issued",
        key_ciphertext: Buffer.from([1, 2, 3]),
        key_nonce: Buffer.alloc(12, 7),
        key_tag: Buffer.alloc(16, 9),
        wrapped_data_key: Buffer.alloc(60, 1),
        master_key_id: "k1",
      })
      .execute();
    const row = await db.selectFrom("certificates").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    assert.ok(Buffer.isBuffer(row.key_ciphertext));
    assert.deepEqual([...row.key_ciphertext!], [1, 2, 3]);
    assert.equal(row.auto_renew, true);
  });
});

describe("change feed", () => {
  test("gap-free versions: 20 concurrent transactions × 3 changes → 1..60, commit order = version order", async () => {
    const start = await currentChangeVersion(db);
    const writers = Array.from({ length: 20 }, (_, w) =>
      db.transaction().execute(async (trx) => {
        await sleep(Math.random() * 20);
        const versions = await appendChanges(
          trx,
          [0, 1, 2].map((i) => ({
            kind: "deployment_topology",
            resourceKey: `w${w}/c${i}`,
            region: i === 2 ? null : "eu-1",
            payload: { writer: w, i },
          })),
        );
        await sleep(Math.random() * 5); // hold the counter lock a little before committing
        return versions;
      }),
    );

    // A watcher polling while the writers commit must never see a gap.
    let seen = start;
    let done = false;
    const gapsSeen: string[] = [];
    const watcher = (async () => {
      while (!done || seen < start + 60) {
        for (const change of await readChanges(db, seen, 7)) {
          if (change.version !== seen + 1) gapsSeen.push(`${seen} → ${change.version}`);
          seen = change.version;
        }
        await sleep(1);
      }
    })();

    const results = await Promise.all(writers);
    done = true;
    await Promise.race([watcher, sleep(10_000).then(() => assert.fail("watcher did not catch up"))]);
    assert.deepEqual(gapsSeen, []);

    for (const versions of results) {
      assert.equal(versions.length, 3);
      assert.deepEqual(versions, [versions[0]!, versions[0]! + 1, versions[0]! + 2], "one transaction's versions are contiguous");
    }
    const all = results.flat().sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 60 }, (_, i) => start + i + 1));
    assert.equal(await currentChangeVersion(db), start + 60);

    const from = start + Math.floor(Math.random() * 60);
    const later = await readChanges(db, from, 1000);
    assert.deepEqual(
      later.map((c) => c.version),
      Array.from({ length: start + 60 - from }, (_, i) => from + i + 1),
    );
    const regional = await readChanges(db, start, 1000, { region: "eu-2", kinds: ["deployment_topology"] });
    assert.equal(regional.length, 20, "region filter keeps only region-less changes for another region");
    assert.ok(regional.every((c) => c.region === null));
  });

  test("a rolled-back transaction leaves no gap", async () => {
    const start = await currentChangeVersion(db);
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await appendChanges(trx, [{ kind: "route", resourceKey: "a.example.com" }]);
        throw new Error("boom");
      }),
      /boom/,
    );
    const [v] = await db.transaction().execute((trx) => appendChanges(trx, [{ kind: "route", resourceKey: "b.example.com", deleted: true }]));
    assert.equal(v, start + 1);
    const [change] = await readChanges(db, start, 10);
    assert.equal(change?.resourceKey, "b.example.com");
    assert.equal(change?.deleted, true);
    assert.equal(change?.payload, null);
  });

  test("statements sent with the bump carry its versions, and one that fails takes the bump back with it", async () => {
    const start = await currentChangeVersion(db);
    // A statement in the bump's round trip sees the versions: here it copies them into the payloads.
    const versions = await db.transaction().execute((trx) =>
      appendChanges(trx, [{ kind: "route", resourceKey: "c1.example.com" }, { kind: "route", resourceKey: "c2.example.com" }], (versionAt) => [
        trx.updateTable("changes").set({ payload: sql`json_object('copied', ${versionAt(0)})` }).where("version", "=", versionAt(0)),
        trx.updateTable("changes").set({ payload: sql`json_object('copied', ${versionAt(1)})` }).where("version", "=", versionAt(1)),
      ]),
    );
    assert.deepEqual(versions, [start + 1, start + 2]);
    const written = await readChanges(db, start, 10);
    assert.deepEqual(written.map((c) => [c.version, c.payload]), [[start + 1, { copied: start + 1 }], [start + 2, { copied: start + 2 }]]);

    // The second statement fails (a duplicate version): nothing of the round trip stays.
    await assert.rejects(
      db.transaction().execute((trx) =>
        appendChanges(trx, [{ kind: "route", resourceKey: "c3.example.com" }], (versionAt) => [
          trx.insertInto("changes").values({ version: versionAt(0), kind: "route", resource_key: "dup", project_id: null, region: null, deleted: false, payload: null }),
        ]),
      ),
      (error: unknown) => isDuplicateKey(error),
    );
    assert.equal(await currentChangeVersion(db), start + 2, "the bump was rolled back");
    const [next] = await db.transaction().execute((trx) => appendChanges(trx, [{ kind: "route", resourceKey: "c4.example.com" }]));
    assert.equal(next, start + 3, "no gap");
  });

  test("one round trip reserves from both counters: each statement carries its own counter's numbers", async () => {
    const start = await currentChangeVersion(db);
    const [lastEvent] = await readEvents(db, 0, 1_000_000).then((all) => all.slice(-1));
    const [firstVersion, firstEventId] = await db.transaction().execute((trx) =>
      reserve(trx, [
        changeReservation(trx, [{ kind: "route", resourceKey: "r1.example.com" }, { kind: "route", resourceKey: "r2.example.com" }]),
        eventReservation(trx, [{ tenantId: "t", type: "Reserved", subject: "s1" }]),
      ]),
    );
    assert.equal(firstVersion, start + 1);
    assert.equal(firstEventId, (lastEvent?.id ?? 0) + 1);
    assert.deepEqual((await readChanges(db, start, 10)).map((c) => [c.version, c.resourceKey]), [[start + 1, "r1.example.com"], [start + 2, "r2.example.com"]]);
    assert.deepEqual((await readEvents(db, firstEventId! - 1, 10)).map((e) => [e.id, e.subject]), [[firstEventId, "s1"]]);
  });

  test("appendChanges refuses to run outside a transaction", async () => {
    await assert.rejects(appendChanges(db as never, [{ kind: "route", resourceKey: "x" }]), /transaction/);
  });
});

describe("outbox", () => {
  test("events get dense ids in commit order and resume after an id sees the rest once", async () => {
    const writers = Array.from({ length: 10 }, (_, w) =>
      db.transaction().execute(async (trx) =>
        appendEvents(trx, [
          { tenantId: w % 2 ? "odd" : "even", workspaceId: null, type: "DomainAdded", subject: `dom_${w}`, payload: { w } },
          { tenantId: w % 2 ? "odd" : "even", type: "DomainVerified", subject: `dom_${w}` },
        ]),
      ),
    );
    const ids = (await Promise.all(writers)).flat().sort((x, y) => x - y);
    assert.deepEqual(ids, Array.from({ length: 20 }, (_, i) => ids[0]! + i));
    const resumeAfter = ids[7]!;
    const rest = await readEvents(db, resumeAfter, 100);
    assert.deepEqual(
      rest.map((e) => e.id),
      ids.filter((id) => id > resumeAfter),
    );
    const odd = await readEvents(db, 0, 100, { tenantId: "odd", types: ["DomainVerified"] });
    assert.equal(odd.length, 5);
    assert.deepEqual(odd[0]!.payload, {});
  });
});

describe("migrations with data", () => {
  test("hostname_reservations: existing projects get their live and environment labels", async () => {
    // Back to just before the reservations (and whatever came after them).
    const names = Object.keys(migrations);
    const since = names.slice(names.indexOf("2026_12_01_100_hostname_reservations"));
    assert.deepEqual(await migrateDown(db, since.length), [...since].reverse());
    const older = await fixture();
    await db.insertInto("environments").values({ id: newId("env"), project_id: older.projectId, slug: "staging" }).execute();
    await migrateToLatest(db);
    const labels = await db.selectFrom("hostname_reservations").select(["label", "project_id"]).where("project_id", "=", older.projectId).orderBy("label").execute();
    const ws = older.workspaceId.replace("_", "-");
    assert.deepEqual(labels.map((l) => l.label).sort(), [`app-${ws}`, `app-env-production-${ws}`, `app-env-staging-${ws}`].sort());
  });

  test("instances_per_deployment: an instance id is unique per deployment; down keeps one row per id", async () => {
    const names = Object.keys(migrations);
    const since = names.slice(names.indexOf("2026_12_01_200_instances_per_deployment"));
    const [a, b] = [await fixture(), await fixture()];
    const instance = (deploymentId: string, address: string) => ({ id: "i-0", deployment_id: deploymentId, region: "eu", status: "running", address });
    await db.insertInto("instances").values(instance(a.deploymentId, "10.0.0.1:80")).execute();
    await db.insertInto("instances").values(instance(b.deploymentId, "10.0.0.2:80")).execute();
    await db.insertInto("deployment_topology").values({ deployment_id: a.deploymentId, region: "eu", desired_status: "running", replicas: 1, version: 0, reported_version: 7 }).execute();
    assert.deepEqual(await migrateDown(db, since.length), [...since].reverse());
    const kept = await db.selectFrom("instances").select(["deployment_id", "address"]).where("id", "=", "i-0").execute();
    assert.equal(kept.length, 1, "one row per id under the old key");
    await assert.rejects(db.insertInto("instances").values(instance(b.deploymentId, "10.0.0.3:80")).execute(), duplicateKey);
    await migrateToLatest(db);
    await db.insertInto("instances").values(instance(kept[0]!.deployment_id === a.deploymentId ? b.deploymentId : a.deploymentId, "10.0.0.3:80")).execute();
    const topology = await db.selectFrom("deployment_topology").select("reported_version").where("deployment_id", "=", a.deploymentId).executeTakeFirstOrThrow();
    assert.equal(Number(topology.reported_version), 0, "the column comes back with its default");
  });

  test("down removes populated tables; up again starts empty", async () => {
    assert.deepEqual(await migrateDownAll(db), [...Object.keys(migrations)].reverse());
    assert.deepEqual((await tableNames()).filter((t) => !t.startsWith("kysely_")), []);
    await migrateToLatest(db);
    assert.equal(await currentChangeVersion(db), 0);
  });
});
