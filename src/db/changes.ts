import type { Compilable, Kysely, Transaction } from "kysely";
import { numbersFrom, reserve, type Reservation, type ReservedNumber } from "./sequences.js";
import { fromJson, toJson, type Database } from "./schema.js";

// The version feed watchers stream from (gap-free-versions, docs/invariants.md).
//
// Every change gets its version inside the writer's own transaction (sequences.ts explains why
// that makes commit order equal version order). A watcher keeps the last version it applied and
// asks for `version > v`; because versions below the highest visible one are all committed, it
// sees every later change exactly once, in order. Bootstrap: read the state and
// `currentChangeVersion` in one REPEATABLE READ transaction, then stream from that version.

export type ChangeKind =
  | "gateway_config"
  | "deployment_topology"
  | "route"
  | "network_route"
  | "certificate"
  | (string & {});

export interface NewChange {
  kind: ChangeKind;
  /** What changed, e.g. a hostname or `${deploymentId}/${region}`. */
  resourceKey: string;
  projectId?: string | null;
  /** NULL/absent: applies to every region. */
  region?: string | null;
  /** The resource was deleted; payload may then be absent. */
  deleted?: boolean;
  /** Any JSON-serialisable value (the new desired state); never secrets or private keys. */
  payload?: unknown;
}

export interface Change {
  version: number;
  kind: ChangeKind;
  resourceKey: string;
  projectId: string | null;
  region: string | null;
  deleted: boolean;
  payload: unknown;
  createdAt: Date;
}

export interface ChangeFilter {
  kinds?: readonly ChangeKind[];
  /** Changes for this region plus the region-less ones. */
  region?: string;
  projectId?: string;
  /** Only versions up to and including this one. */
  throughVersion?: number;
}

/** The filter of `readChanges`, applied in memory (the feed tailer filters what it read once for every stream). */
export function matchesFilter(change: Change, filter: ChangeFilter): boolean {
  if (filter.kinds && !filter.kinds.includes(change.kind)) return false;
  if (filter.projectId !== undefined && change.projectId !== filter.projectId) return false;
  if (filter.region !== undefined && change.region !== null && change.region !== filter.region) return false;
  if (filter.throughVersion !== undefined && change.version > filter.throughVersion) return false;
  return true;
}

/**
 * Appends `changes` to the feed inside `trx` and returns their versions, in input order.
 * One round trip whatever the count: the counter bump and the multi-row insert go together,
 * with `alongside(versionAt)` — statements that carry the versions too (a gateway config's, a
 * topology row's), `versionAt(i)` being the version of `changes[i]` as SQL. Call it last in the
 * transaction: from here until commit, other feed writers wait.
 */
export async function appendChanges(
  trx: Transaction<Database>,
  changes: readonly NewChange[],
  alongside: (versionAt: ReservedNumber) => readonly Compilable[] = () => [],
): Promise<number[]> {
  if (changes.length === 0) return [];
  const [first] = await reserve(trx, [changeReservation(trx, changes, alongside)]);
  return numbersFrom(first!, changes.length);
}

/** appendChanges' writes as a reservation, to send in one round trip with the outbox's (sequences.ts: reserve). */
export function changeReservation(
  trx: Transaction<Database>,
  changes: readonly NewChange[],
  alongside: (versionAt: ReservedNumber) => readonly Compilable[] = () => [],
): Reservation {
  return {
    name: "changes",
    count: changes.length,
    statements: (versionAt) => [
      trx.insertInto("changes").values(
        changes.map((c, i) => ({
          version: versionAt(i),
          kind: c.kind,
          resource_key: c.resourceKey,
          project_id: c.projectId ?? null,
          region: c.region ?? null,
          deleted: c.deleted ?? false,
          payload: c.payload === undefined ? null : toJson(c.payload),
        })),
      ),
      ...alongside(versionAt),
    ],
  };
}

/** Changes with version > `fromVersionExclusive`, oldest first, at most `limit`. */
export async function readChanges(
  db: Kysely<Database>,
  fromVersionExclusive: number,
  limit: number,
  filter: ChangeFilter = {},
): Promise<Change[]> {
  if (!Number.isInteger(fromVersionExclusive) || fromVersionExclusive < 0) {
    throw new RangeError(`readChanges: fromVersionExclusive must be a non-negative integer, got ${fromVersionExclusive}`);
  }
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`readChanges: limit must be a positive integer, got ${limit}`);
  if (filter.kinds && filter.kinds.length === 0) return [];
  let query = db.selectFrom("changes").selectAll().where("version", ">", fromVersionExclusive);
  if (filter.kinds) query = query.where("kind", "in", [...filter.kinds]);
  if (filter.projectId !== undefined) query = query.where("project_id", "=", filter.projectId);
  if (filter.throughVersion !== undefined) query = query.where("version", "<=", filter.throughVersion);
  if (filter.region !== undefined) {
    const region = filter.region;
    query = query.where((eb) => eb.or([eb("region", "=", region), eb("region", "is", null)]));
  }
  const rows = await query.orderBy("version").limit(limit).execute();
  return rows.map((r) => ({
    version: Number(r.version),
    kind: r.kind,
    resourceKey: r.resource_key,
    projectId: r.project_id,
    region: r.region,
    deleted: r.deleted,
    payload: fromJson(r.payload),
    createdAt: r.created_at,
  }));
}

/** The highest committed version visible to `db` (0 when the feed is empty). */
export async function currentChangeVersion(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom("sequences").select("value").where("name", "=", "changes").executeTakeFirst();
  if (!row) throw new Error("currentChangeVersion: the sequences row is missing; run the migrations");
  return Number(row.value);
}
