import { Migrator, NO_MIGRATIONS, type Kysely, type MigrationResult, type MigrationResultSet } from "kysely";
import { migrations } from "./migrations/index.js";

// Runs the static migration set with Kysely's Migrator (its own tables: kysely_migration and
// kysely_migration_lock; on MySQL the lock is GET_LOCK, released if the process dies).
//
// MySQL commits DDL implicitly, so a migration that fails part-way is not rolled back: the error
// names the migration, and its `down` tolerates a partially applied `up`.

export class MigrationFailedError extends Error {
  constructor(
    readonly direction: "up" | "down",
    /** The migration that failed, when Kysely got as far as running one. */
    readonly migrationName: string | undefined,
    /** Per-migration outcome of this run ("Success", "Error", "NotExecuted"). */
    readonly results: readonly MigrationResult[],
    cause: unknown,
  ) {
    const what = migrationName ? `migration "${migrationName}" (${direction})` : `migrating ${direction}`;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${what} failed: ${reason}`, { cause });
    this.name = "MigrationFailedError";
  }
}

function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

/** Names of the migrations the run executed, in order; throws MigrationFailedError on failure. */
function unwrap(direction: "up" | "down", set: MigrationResultSet): string[] {
  const results = set.results ?? [];
  if (set.error !== undefined) {
    const failed = results.find((r) => r.status === "Error");
    throw new MigrationFailedError(direction, failed?.migrationName, results, set.error);
  }
  return results.filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied. Concurrent callers serialise on Kysely's lock. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return unwrap("up", await migrator(db).migrateToLatest());
}

/** Reverts the last `steps` applied migrations (fewer if fewer are applied); returns their names. */
export async function migrateDown(db: Kysely<any>, steps = 1): Promise<string[]> {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`migrateDown: steps must be a non-negative integer, got ${steps}`);
  const executed: string[] = [];
  for (let i = 0; i < steps; i++) {
    const reverted = unwrap("down", await migrator(db).migrateDown());
    if (reverted.length === 0) break;
    executed.push(...reverted);
  }
  return executed;
}

/** Reverts every applied migration; returns the names reverted, newest first. */
export async function migrateDownAll(db: Kysely<any>): Promise<string[]> {
  return unwrap("down", await migrator(db).migrateTo(NO_MIGRATIONS));
}

/** Names of the known migrations with the time each was applied (undefined = pending). */
export async function migrationStatus(db: Kysely<any>): Promise<{ name: string; executedAt: Date | undefined }[]> {
  const infos = await migrator(db).getMigrations();
  return infos.map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
