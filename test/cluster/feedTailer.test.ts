// The feed tailer (src/cluster/feedTailer.ts) in this process against a real MariaDB: writers in
// this process (through the signalling driver) and in "another replica" (a second pool without
// it), followers with different filters.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql, type Kysely } from "kysely";
import { appendChanges, currentChangeVersion, matchesFilter, readChanges, type Change, type ChangeFilter } from "../../src/db/changes.js";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { FeedCommits } from "../../src/db/feedCommits.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { pruneFeed } from "../../src/db/retention.js";
import type { Database } from "../../src/db/schema.js";
import { ChangesPruned, FeedTailer, FeedUnavailable, StreamFellBehind } from "../../src/cluster/feedTailer.js";
import { startMariaDb, type MariaDb } from "../harness/index.js";
import { until } from "../support/until.js";

let mariadb: MariaDb;
let commits: FeedCommits;
/** This process's pool: its commits wake the tailers built on `commits`. */
let local: Kysely<Database>;
/** Another replica's pool: the tailers learn of its commits only by polling. */
let remote: Kysely<Database>;

function write(db: Kysely<Database>, kind: string, region: string | null, n = 1): Promise<number[]> {
  return db.transaction().execute((trx) =>
    appendChanges(
      trx,
      Array.from({ length: n }, (_, i) => ({ kind, resourceKey: `r${i}`, region, payload: { i } })),
    ),
  );
}

/** Starts following and returns the collected changes plus a stop function. */
function follow(tailer: FeedTailer, from: number, filter: ChangeFilter) {
  const controller = new AbortController();
  const seen: Change[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const change of tailer.follow(from, filter, controller.signal)) seen.push(change);
    } catch (error) {
      failure = error;
    }
  })();
  return {
    seen,
    get failure() {
      return failure;
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

describe("feed tailer", () => {
  before(async () => {
    mariadb = await startMariaDb();
    await ensureDatabase(mariadb.url);
    commits = new FeedCommits();
    local = createDb(mariadb.url, { poolSize: 8, feedCommits: commits });
    remote = createDb(mariadb.url, { poolSize: 8 });
    await migrateToLatest(local);
  });
  after(async () => {
    await local?.destroy();
    await remote?.destroy();
    await mariadb?.stop();
  });

  it("gap-free-versions: concurrent writers here and elsewhere; every follower gets each of its changes once, in order", async () => {
    const tailer = new FeedTailer(local, commits, { pollMs: 20, streamBuffer: 10_000 });
    const start = await currentChangeVersion(local);
    const filters: ChangeFilter[] = [
      {},
      { kinds: ["deployment_topology"], region: "eu" },
      { kinds: ["deployment_topology"], region: "us" },
      { kinds: ["gateway_config"], region: "eu" },
    ];
    const followers = Array.from({ length: 40 }, (_, i) => ({ filter: filters[i % filters.length]!, ...follow(tailer, start, filters[i % filters.length]!) }));
    try {
      await until("every follower to be registered", () => tailer.followerCount === followers.length);
      const kinds = ["deployment_topology", "gateway_config"];
      const regions = ["eu", "us", null];
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 15; i++) await write(w % 2 === 0 ? local : remote, kinds[(w + i) % 2]!, regions[(w + i) % 3]!, 1 + (i % 3));
        }),
      );
      const end = await currentChangeVersion(local);
      const all = await readChanges(local, start, 100_000);
      assert.equal(all.length, end - start);
      for (const follower of followers) {
        const expected = all.filter((c) => matchesFilter(c, follower.filter)).map((c) => c.version);
        await until("a follower to catch up", () => follower.seen.length >= expected.length || follower.failure, 10_000);
        assert.equal(follower.failure, undefined);
        assert.deepEqual(follower.seen.map((c) => c.version), expected);
      }
    } finally {
      await Promise.all(followers.map((f) => f.stop()));
      await tailer.close();
    }
  });

  it("a local commit wakes the tailer at once, and one read serves every follower", async () => {
    // A poll this slow never fires during the test: only the commit signal can deliver.
    const tailer = new FeedTailer(local, commits, { pollMs: 60_000, streamBuffer: 1000 });
    const start = await currentChangeVersion(local);
    const followers = Array.from({ length: 50 }, () => follow(tailer, start, { kinds: ["deployment_topology"] }));
    try {
      await until("followers registered", () => tailer.followerCount === 50);
      const before = tailer.queries;
      for (let i = 1; i <= 10; i++) {
        await write(local, "deployment_topology", "eu");
        await until(`change ${i} at every follower`, () => followers.every((f) => f.seen.length === i), 5_000);
      }
      const reads = tailer.queries - before;
      assert.ok(reads >= 10 && reads <= 12, `${reads} feed reads for 10 commits and 50 followers`);
    } finally {
      await Promise.all(followers.map((f) => f.stop()));
      await tailer.close();
    }
  });

  it("the commit signal fires after COMMIT: the change is visible to another connection by then", async () => {
    const checks: Promise<boolean>[] = [];
    const unsubscribe = commits.subscribe(() => {
      checks.push(currentChangeVersion(remote).then((v) => v === expected));
    });
    let expected = -1;
    try {
      await local.transaction().execute(async (trx) => {
        const [version] = await appendChanges(trx, [{ kind: "route", resourceKey: "x" }]);
        expected = version!;
        // Still uncommitted: no signal yet.
        assert.equal(checks.length, 0);
      });
      assert.equal(checks.length, 1, "one signal for the commit");
      assert.deepEqual(await Promise.all(checks), [true]);
      await assert.rejects(
        local.transaction().execute(async (trx) => {
          await appendChanges(trx, [{ kind: "route", resourceKey: "y" }]);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.equal(checks.length, 1, "a rollback signals nothing");
    } finally {
      unsubscribe();
    }
  });

  it("a follower that does not keep up is dropped with a resume hint; the others are not held up", async () => {
    const tailer = new FeedTailer(local, commits, { pollMs: 20, streamBuffer: 20 });
    const start = await currentChangeVersion(local);
    const fast = follow(tailer, start, {});
    const controller = new AbortController();
    const slow = tailer.follow(start, {}, controller.signal);
    try {
      const first = slow.next(); // registers, then waits for its first change
      await until("both followers registered", () => tailer.followerCount === 2);
      await write(remote, "gateway_config", null, 1);
      assert.equal((await first).value?.version, start + 1);
      // The slow one takes nothing more while 60 changes go by.
      for (let i = 0; i < 6; i++) await write(remote, "gateway_config", null, 10);
      await until("the fast follower to receive all 61", () => fast.seen.length === 61);
      // The next read finds the slow one still holding more than its bound: it is dropped.
      await write(remote, "gateway_config", null, 1);
      await until("the slow follower to be dropped", () => tailer.followerCount === 1);
      await until("the fast follower to receive the next", () => fast.seen.length === 62);
      await assert.rejects(
        (async () => {
          for (;;) if ((await slow.next()).done) return;
        })(),
        (error: unknown) => error instanceof StreamFellBehind && /resume from the last version you applied \(this stream delivered through \d+\)/.test(error.message),
      );
    } finally {
      controller.abort();
      await fast.stop();
      await tailer.close();
    }
  });

  it("a follower resuming from an older version reads its backlog, then the live changes, without gap or repeat", async () => {
    const tailer = new FeedTailer(local, commits, { pollMs: 20, streamBuffer: 10_000, batch: 7 });
    const warm = follow(tailer, await currentChangeVersion(local), {}); // the tailer runs ahead
    const start = await currentChangeVersion(local);
    await write(remote, "deployment_topology", "eu", 40);
    await until("the tailer to pass the backlog", () => warm.seen.length === 40);
    const resumed = follow(tailer, start + 3, { kinds: ["deployment_topology"] });
    const writing = (async () => {
      for (let i = 0; i < 20; i++) await write(i % 2 ? local : remote, "deployment_topology", "us");
    })();
    try {
      await writing;
      const end = await currentChangeVersion(local);
      await until("the resumed follower to reach the end", () => resumed.seen.at(-1)?.version === end);
      assert.deepEqual(
        resumed.seen.map((c) => c.version),
        Array.from({ length: end - start - 3 }, (_, i) => start + 4 + i),
      );
    } finally {
      await resumed.stop();
      await warm.stop();
      await tailer.close();
    }
  });

  it("a backlog that was pruned fails with ChangesPruned", async () => {
    const tailer = new FeedTailer(local, commits, { pollMs: 20, streamBuffer: 1000 });
    const start = await currentChangeVersion(local);
    await write(remote, "deployment_topology", "eu", 5);
    await sql`update changes set created_at = created_at - interval 1 day where version <= ${start + 3}`.execute(local);
    const pruned = await pruneFeed(local, "changes", new Date(Date.now() - 3_600_000));
    assert.equal(pruned.prunedThrough, start + 3);
    const warm = follow(tailer, start + 5, {});
    await until("the tailer to run", () => tailer.followerCount === 1);
    await write(remote, "deployment_topology", "eu"); // the tailer's head moves past the backlog
    await until("the warm follower to see it", () => warm.seen.length === 1);
    const old = follow(tailer, start + 1, {});
    try {
      await until("the old follower to fail", () => old.failure);
      assert.ok(old.failure instanceof ChangesPruned, String(old.failure));
      assert.deepEqual(old.seen, [], "nothing after a gap was delivered");
    } finally {
      await old.stop();
      await warm.stop();
      await tailer.close();
    }
  });
  it("followers are told to reconnect when the database stays down, and resume without a gap once it is back", async () => {
    const tailer = new FeedTailer(local, commits, { pollMs: 20, streamBuffer: 1000 });
    const start = await currentChangeVersion(local);
    const before = follow(tailer, start, {});
    try {
      await write(remote, "deployment_topology", "eu", 3);
      await until("the three changes", () => before.seen.length === 3);
      await mariadb.kill();
      await until("the follower to be told to reconnect", () => before.failure, 30_000);
      assert.ok(before.failure instanceof FeedUnavailable, String(before.failure));
      await mariadb.restart();
      // The pools find their connections dead once, then open new ones.
      await until("a write after the restart", () => write(remote, "deployment_topology", "eu", 2).then(() => true, () => false), 30_000, 200);
      const resumed = follow(tailer, before.seen.at(-1)!.version, {});
      try {
        await until("the changes written after the restart", () => resumed.seen.length === 2, 30_000);
        assert.deepEqual(resumed.seen.map((c) => c.version), [start + 4, start + 5]);
      } finally {
        await resumed.stop();
      }
    } finally {
      await before.stop();
      await tailer.close();
    }
  });
});
