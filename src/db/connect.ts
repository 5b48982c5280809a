import { CompiledQuery, Kysely, MysqlDialect } from "kysely";
import { createConnection, createPool, type PoolOptions, type TypeCast } from "mysql2";
import { redact } from "../config.js";
import type { Database } from "./schema.js";
import { signallingDialect, type FeedCommits } from "./feedCommits.js";

// Connections to MySQL 8 / MariaDB 10.11 from a `mysql://user:pass@host:port/database` URL.
// Query parameters: `socket=/path/to.sock` connects over a Unix socket instead of TCP.
//
// Every connection is set up the same way, which the types in schema.ts rely on:
// - session time_zone '+00:00' and mysql2 timezone 'Z': DATETIME values and CURRENT_TIMESTAMP
//   defaults are UTC, and JS Dates round-trip unchanged;
// - dateStrings false (DATETIME → Date), supportBigNumbers (BIGINT beyond 2^53 as string, never
//   silently rounded), TINYINT(1) → boolean;
// - utf8mb4, and a strict sql_mode identical on both servers (no silent truncation, no zero
//   dates, ONLY_FULL_GROUP_BY like MySQL's default);
// - multiple statements per query: the change feed sends a counter bump with the inserts that
//   carry its numbers in one round trip (sequences.ts). Every statement is compiled by Kysely with
//   placeholders, values escaped by the driver; no SQL is ever built from input text.

const SQL_MODE =
  "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";
const SESSION_SETUP = `SET time_zone = '+00:00', sql_mode = '${SQL_MODE}'`;
const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;

export interface ParsedDatabaseUrl {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  socketPath: string | undefined;
}

export class DatabaseUrlError extends Error {
  constructor(url: string, problem: string) {
    super(`invalid database URL "${redact(url)}": ${problem}`);
    this.name = "DatabaseUrlError";
  }
}

export function parseDatabaseUrl(databaseUrl: string): ParsedDatabaseUrl {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new DatabaseUrlError(databaseUrl, "not a URL");
  }
  if (url.protocol !== "mysql:") throw new DatabaseUrlError(databaseUrl, "the scheme must be mysql://");
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!DATABASE_NAME.test(database)) {
    throw new DatabaseUrlError(databaseUrl, "the path must name a database (letters, digits, _ or $; at most 64)");
  }
  const port = url.port === "" ? 3306 : Number(url.port);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1",
    port,
    user: decodeURIComponent(url.username) || "root",
    password: url.password === "" ? undefined : decodeURIComponent(url.password),
    database,
    socketPath: url.searchParams.get("socket") ?? undefined,
  };
}

const typeCast: TypeCast = (field, next) => {
  if (field.type === "TINY" && field.length === 1) {
    const value = field.string();
    return value === null ? null : value === "1";
  }
  return next();
};

function connectionOptions(parsed: ParsedDatabaseUrl): PoolOptions {
  return {
    ...(parsed.socketPath ? { socketPath: parsed.socketPath } : { host: parsed.host, port: parsed.port }),
    user: parsed.user,
    password: parsed.password,
    charset: "utf8mb4",
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    typeCast,
    connectTimeout: 10_000,
  };
}

export interface CreateDbOptions {
  /** Maximum connections in the pool (default 10). */
  poolSize?: number;
  /** Told after every commit that appended to the change feed (the process's feed tailer listens). */
  feedCommits?: FeedCommits;
}

/** A Kysely instance over a mysql2 pool. Call `db.destroy()` to close the pool. */
export function createDb(databaseUrl: string, opts: CreateDbOptions = {}): Kysely<Database> {
  const parsed = parseDatabaseUrl(databaseUrl);
  const poolSize = opts.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError(`createDb: poolSize must be a positive integer, got ${poolSize}`);
  const pool = createPool({
    ...connectionOptions(parsed),
    database: parsed.database,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    waitForConnections: true,
    enableKeepAlive: true,
    multipleStatements: true,
  });
  const dialect = new MysqlDialect({
    pool,
    onCreateConnection: async (connection) => {
      await connection.executeQuery(CompiledQuery.raw(SESSION_SETUP));
    },
  });
  return new Kysely<Database>({ dialect: opts.feedCommits ? signallingDialect(dialect, opts.feedCommits) : dialect });
}

/**
 * Creates the database named in the URL if it does not exist (utf8mb4, binary collation).
 * Connects without selecting a database, so it works on an empty server.
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const parsed = parseDatabaseUrl(databaseUrl);
  const connection = createConnection(connectionOptions(parsed));
  try {
    await connection
      .promise()
      .query(`CREATE DATABASE IF NOT EXISTS \`${parsed.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`could not create database "${parsed.database}" at ${redact(databaseUrl)}: ${reason}`, { cause: err });
  } finally {
    await connection.promise().end().catch(() => connection.destroy());
  }
}
