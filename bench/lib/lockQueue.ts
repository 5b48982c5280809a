import { sql, type Kysely } from "kysely";
import type { Database } from "../../src/db/schema.js";
import { round } from "./stats.js";

// Where concurrent transactions queue: MariaDB's process list sampled every SAMPLE_MS while a
// load runs. The statements that take the two shared locks of a routing transaction — the
// project row (lockProject's SELECT … FOR UPDATE) and the feed counter (the `sequences` bump) —
// answer in microseconds unless they wait, so the average number of sessions seen in each is the
// length of that lock's queue.

const SAMPLE_MS = 20;

export interface LockQueues {
  /** Sessions in the `sequences` bump, on average over the samples. */
  counter: number;
  /** Sessions in lockProject's locking read, on average. */
  projectRow: number;
  samples: number;
}

/** Samples until `during` settles; returns its value and the queues seen meanwhile. */
export async function sampleLockQueues<T>(db: Kysely<Database>, during: Promise<T>): Promise<{ value: T; queues: LockQueues }> {
  let done = false;
  const settled = during.finally(() => (done = true));
  let counter = 0;
  let projectRow = 0;
  let samples = 0;
  while (!done) {
    const running = await sql<{ info: string }>`SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INFO IS NOT NULL`.execute(db);
    for (const { info } of running.rows) {
      if (info.startsWith("update `sequences`")) counter++;
      else if (info.startsWith("select `projects`.`id`") && info.endsWith("for update")) projectRow++;
    }
    samples++;
    await Promise.race([settled.then(() => undefined, () => undefined), new Promise((resolve) => setTimeout(resolve, SAMPLE_MS))]);
  }
  const value = await settled;
  return { value, queues: { counter: round(counter / Math.max(samples, 1)), projectRow: round(projectRow / Math.max(samples, 1)), samples } };
}
