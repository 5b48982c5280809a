import type { Kysely } from "kysely";
import { currentChangeVersion, matchesFilter, readChanges, type Change, type ChangeFilter } from "../db/changes.js";
import type { FeedCommits } from "../db/feedCommits.js";
import { prunedThrough } from "../db/retention.js";
import type { Database } from "../db/schema.js";
import type { Logger } from "../log.js";

// One reader of the change feed per process, shared by every watch stream of that process.
//
//   commit in this process ──► FeedCommits ──► wake ─┐
//   every pollMs (commits of other replicas) ────────┴─► one query: changes after `head`
//                                                         └─► offered to every follower
//                                                             (filtered in memory, bounded queue)
//
// So the database sees one query per tick whatever the number of streams, and a local commit
// reaches its watchers without waiting for the poll. Versions are gap-free and commit in order
// (src/db/sequences.ts), so reading `version > head` never skips one: every follower receives
// every matching change exactly once, in version order.
//
// A follower that resumes from an older version first reads its own backlog (its versions up to
// the tailer's head when it joined) straight from the database, while the tailer queues what
// comes after. A follower that still has more than `streamBuffer` changes waiting when the next
// read arrives (its client does not keep up) is dropped with StreamFellBehind; the others never
// wait for it.

export interface FeedTailerOptions {
  /** How often to look for changes committed by other processes. */
  pollMs: number;
  /** Changes a follower may have waiting before it is dropped. */
  streamBuffer: number;
  /** Rows per query. */
  batch?: number;
  logger?: Logger;
}

/** The client reads slower than the feed moves; it should reconnect from the last version it applied. */
export class StreamFellBehind extends Error {
  constructor(
    readonly deliveredThrough: number,
    readonly limit: number,
  ) {
    super(`this stream fell more than ${limit} changes behind the feed; resume from the last version you applied (this stream delivered through ${deliveredThrough})`);
    this.name = "StreamFellBehind";
  }
}

/** The requested resume point is older than the retained changes; the client must bootstrap from 0. */
export class ChangesPruned extends Error {
  constructor(
    readonly fromVersion: number,
    readonly prunedThrough: number,
  ) {
    super(`from_version ${fromVersion} is older than the retained changes (the oldest resume point is ${prunedThrough}); restart from 0`);
    this.name = "ChangesPruned";
  }
}

/** This server cannot serve the feed now (shutting down, or the database unreachable); reconnect, maybe elsewhere. */
export class FeedUnavailable extends Error {
  constructor(reason: string) {
    super(`the change feed of this server is unavailable (${reason}); reconnect`);
    this.name = "FeedUnavailable";
  }
}

/** Consecutive failed reads after which the followers are told to reconnect (they may reach another replica). */
const FAILURES_BEFORE_DROPPING = 5;

class Follower {
  /** Accepted changes not yet taken by the stream (after `floor`, in version order). */
  private readonly queue: Change[] = [];
  private read = 0;
  failure: Error | undefined;
  private wakeStream: (() => void) | undefined;

  constructor(
    readonly filter: ChangeFilter,
    /** Changes at or below this were read another way (backlog, snapshot): skip them. */
    readonly floor: number,
    private readonly limit: number,
  ) {}

  get waiting(): number {
    return this.queue.length - this.read;
  }

  /** Before a read's changes are offered: false (and failed) when the last ones are still mostly waiting. */
  keepingUp(deliveredThrough: number): boolean {
    if (this.waiting <= this.limit) return true;
    this.fail(new StreamFellBehind(deliveredThrough, this.limit));
    return false;
  }

  offer(change: Change): void {
    if (change.version <= this.floor || !matchesFilter(change, this.filter)) return;
    this.queue.push(change);
    this.wakeStream?.();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wakeStream?.();
  }

  take(): Change | undefined {
    if (this.read === this.queue.length) return undefined;
    const change = this.queue[this.read++]!;
    // Compact now and then instead of shifting on every take.
    if (this.read > 1024 && this.read * 2 > this.queue.length) {
      this.queue.splice(0, this.read);
      this.read = 0;
    }
    return change;
  }

  /** Resolves on the next offer, failure or abort. */
  next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.wakeStream = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.wakeStream = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

export class FeedTailer {
  private readonly followers = new Map<Follower, { deliveredThrough: number }>();
  private head = 0;
  private started: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private woken = false;
  private wakeLoop: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly batch: number;
  /** The last version the shared loop has read, or undefined while it is not running (no follower). */
  position(): number | undefined {
    return this.loop && this.followers.size > 0 ? this.head : undefined;
  }

  /** Queries made by the shared loop (not the followers' backlogs), for tests and benchmarks. */
  queries = 0;

  constructor(
    private readonly db: Kysely<Database>,
    commits: FeedCommits | undefined,
    private readonly options: FeedTailerOptions,
  ) {
    this.batch = options.batch ?? 500;
    this.unsubscribe = commits?.subscribe(() => this.wake()) ?? (() => undefined);
  }

  get followerCount(): number {
    return this.followers.size;
  }

  /**
   * Every change after `fromVersion` that matches `filter`, in version order, until `signal`
   * aborts. Throws ChangesPruned when part of the backlog was pruned, StreamFellBehind when the
   * consumer does not keep up, FeedUnavailable on shutdown or when the database stays unreachable.
   */
  async *follow(fromVersion: number, filter: ChangeFilter, signal: AbortSignal): AsyncGenerator<Change> {
    await this.start();
    if (this.closed) throw new FeedUnavailable("shutting down");
    const backlogThrough = this.head;
    const follower = new Follower(filter, Math.max(fromVersion, backlogThrough), this.options.streamBuffer);
    const progress = { deliveredThrough: fromVersion };
    this.followers.set(follower, progress);
    try {
      // The backlog (fromVersion, backlogThrough] straight from the database; later changes queue meanwhile.
      for (let cursor = fromVersion; cursor < backlogThrough && !signal.aborted; ) {
        const rows = await readChanges(this.db, cursor, this.batch, { ...filter, throughVersion: backlogThrough });
        // Checked before anything of this batch is sent: a prune that overtook the read shows here.
        const pruned = await prunedThrough(this.db, "changes");
        if (pruned > cursor) throw new ChangesPruned(fromVersion, pruned);
        for (const change of rows) {
          progress.deliveredThrough = change.version;
          yield change;
        }
        if (rows.length < this.batch) break;
        cursor = rows.at(-1)!.version;
      }
      while (!signal.aborted) {
        if (follower.failure) throw follower.failure;
        const change = follower.take();
        if (change) {
          progress.deliveredThrough = change.version;
          yield change;
        } else {
          await follower.next(signal);
        }
      }
    } finally {
      this.followers.delete(follower);
    }
  }

  /** Stops the shared loop; every follower ends with FeedUnavailable. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    for (const follower of this.followers.keys()) follower.fail(new FeedUnavailable("shutting down"));
    this.wake();
    await this.loop;
  }

  private wake(): void {
    this.woken = true;
    this.wakeLoop?.();
  }

  /** The first follower starts the loop at the feed's current position. */
  private start(): Promise<void> {
    this.started ??= (async () => {
      this.head = await currentChangeVersion(this.db);
      this.loop = this.run();
    })().catch((error: unknown) => {
      this.started = undefined; // the next follower tries again
      throw error;
    });
    return this.started;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      this.woken = false;
      let rows: Change[];
      try {
        rows = await readChanges(this.db, this.head, this.batch);
        this.queries++;
        failures = 0;
      } catch (error) {
        failures++;
        this.options.logger?.warn({ problem: (error as Error).message, failures }, "change feed read failed; retrying");
        if (failures === FAILURES_BEFORE_DROPPING) {
          for (const follower of this.followers.keys()) follower.fail(new FeedUnavailable("the database does not answer"));
          this.followers.clear();
        }
        await this.pause(Math.min(5000, this.options.pollMs * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (rows.length > 0 && rows[0]!.version !== this.head + 1) {
        // Only a prune that overtook this reader (stalled longer than the retention window) leaves a gap.
        for (const follower of this.followers.keys()) follower.fail(new ChangesPruned(this.head, rows[0]!.version - 1));
        this.followers.clear();
      }
      // A follower is at most one read beyond its bound: checked per read, not per change, so a
      // burst that arrives in one read never drops a client that keeps up between reads.
      if (rows.length > 0) {
        for (const [follower, progress] of this.followers) if (!follower.keepingUp(progress.deliveredThrough)) this.followers.delete(follower);
      }
      for (const change of rows) {
        this.head = change.version;
        for (const follower of this.followers.keys()) follower.offer(change);
      }
      if (rows.length === this.batch) continue;
      if (!this.woken) await this.pause(this.options.pollMs);
    }
  }

  /** Sleeps up to `ms`, cut short by a wake (a local commit) or close. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeLoop = () => {
        this.wakeLoop = undefined;
        done();
      };
    });
  }
}
