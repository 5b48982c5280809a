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

/** Socket-level failures of a database connection (connect, read or write). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "PROTOCOL_CONNECTION_LOST", "PROTOCOL_SEQUENCE_TIMEOUT"]);
/**
 * Server answers that mean "not now": shutting down (1053), too many connections (1040), the
 * connection was killed (MySQL 1317 query interrupted on KILL CONNECTION, MariaDB 1927), the
 * server timed the client out (MySQL 4031).
 */
const UNAVAILABLE_ERRNOS = new Set([1053, 1040, 1317, 1927, 4031]);

/**
 * The database could not be reached or dropped the connection (a restart, a failover, a full
 * connection table) — nothing is wrong with the request, so the caller may retry. mysql2 marks
 * every connection-level error `fatal` (including "Can't add new command when connection is in
 * closed state" on a connection that died meanwhile); query errors never are.
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  if (typeof err !== "object" || err === null) return false;
  const { fatal, code } = err as { fatal?: unknown; code?: unknown };
  if (fatal === true) return true;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  const n = errno(err);
  return n !== undefined && UNAVAILABLE_ERRNOS.has(n);
}
