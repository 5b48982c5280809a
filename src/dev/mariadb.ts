// How Switchyard runs a private mariadbd, shared by the dev stack (`npm run dev`, data kept
// under .data/mysql) and the test harness (a throwaway copy of a template datadir per test).

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { LOOPBACK } from "./net.js";

const execFileAsync = promisify(execFile);

// Sizes for a laptop or a CI box: small redo log and buffer pool.
const INNODB_SIZES = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M"];
const asRoot = () => (process.getuid?.() === 0 ? ["--user=root"] : []);

/** Creates a fresh datadir with mariadb-install-db (root over TCP, no password, no test db). */
export async function installDatadir(installDb: string, datadir: string, tmpdir: string): Promise<void> {
  await fs.promises.mkdir(tmpdir, { recursive: true });
  const args = [
    "--no-defaults",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    `--datadir=${datadir}`,
    `--tmpdir=${tmpdir}`,
    ...asRoot(),
    ...INNODB_SIZES,
  ];
  try {
    await execFileAsync(installDb, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, cwd: path.dirname(datadir) });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`mariadb-install-db failed for ${datadir}: ${e.message}\n${(e.stderr ?? "").split("\n").slice(-20).join("\n")}`);
  }
}

export interface MariaDbdLayout {
  dataDir: string;
  /** Holds the socket, the pid file and tmp/. */
  runDir: string;
  port: number;
  /** SQL run at start, before any client connects (`--init-file`). */
  initFile?: string;
}

/** mariadbd's command line: loopback only, UTC, utf8mb4, strict SQL mode, no binlog. */
export function mariadbdArgs({ dataDir, runDir, port, initFile }: MariaDbdLayout): string[] {
  return [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--socket=${path.join(runDir, "mysqld.sock")}`,
    `--pid-file=${path.join(runDir, "mysqld.pid")}`,
    `--tmpdir=${path.join(runDir, "tmp")}`,
    `--port=${port}`,
    `--bind-address=${LOOPBACK}`,
    ...asRoot(),
    "--skip-name-resolve",
    ...INNODB_SIZES,
    "--skip-log-bin",
    // Flush the redo log once a second: a crash of the whole machine may lose the last second,
    // a SIGKILL of mariadbd alone loses nothing (the OS still holds the writes).
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-buffer-pool-load-at-startup=0",
    "--innodb-buffer-pool-dump-at-shutdown=0",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--default-time-zone=+00:00",
    "--sql-mode=STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
    ...(initFile ? [`--init-file=${initFile}`] : []),
  ];
}

/** True once root (with `password`, if it has one) can run SELECT 1 over TCP. */
export async function selectOne(port: number, password?: string): Promise<boolean> {
  const connection = await mysql.createConnection({ host: LOOPBACK, port, user: "root", ...(password ? { password } : {}), connectTimeout: 1000 });
  try {
    await connection.query("SELECT 1");
    return true;
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

/** CREATE DATABASE IF NOT EXISTS, as root over TCP. */
export async function createDatabase(port: number, database: string): Promise<void> {
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`bad database name "${database}"`);
  const admin = await mysql.createConnection({ host: LOOPBACK, port, user: "root", connectTimeout: 2000 });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
}
