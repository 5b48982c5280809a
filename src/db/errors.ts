// Classifying MySQL/MariaDB errors by number (mysql2 names errors after MySQL's numbering, so a
// MariaDB-only number gets a misleading `code`: MariaDB's CHECK failure 4025 arrives as
// "ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE"). Use these instead of comparing `code` strings.

function errno(err: unknown): number | undefined {
  const value = (err as { errno?: unknown } | null)?.errno;
  return typeof value === "number" ? value : undefined;
}

/** Which unique key was violated, from "Duplicate entry '…' for key '<name>'" (both servers). */
export function duplicateKeyName(err: unknown): string | undefined {
  if (!isDuplicateKey(err)) return undefined;
  const match = /for key '(?:[^'.]+\.)?([^']+)'/.exec((err as Error).message ?? "");
  return match?.[1];
}

/** ER_DUP_ENTRY (1062) on both servers. */
export function isDuplicateKey(err: unknown): boolean {
  return errno(err) === 1062;
}

/** A CHECK constraint failed: MySQL 3819 (ER_CHECK_CONSTRAINT_VIOLATED), MariaDB 4025 (ER_CONSTRAINT_FAILED). */
export function isCheckViolation(err: unknown): boolean {
  const n = errno(err);
  return n === 3819 || n === 4025;
}

/** A row is still referenced (1451) or the referenced row is missing (1452). */
export function isForeignKeyViolation(err: unknown): boolean {
  const n = errno(err);
  return n === 1451 || n === 1452;
}

/** Deadlock (1213) or lock wait timeout (1205): the transaction may be retried as a whole. */
export function isRetryableTransactionError(err: unknown): boolean {
  const n = errno(err);
  return n === 1213 || n === 1205;
}
