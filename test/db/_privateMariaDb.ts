// A throwaway mariadbd for the db tests until test/harness/ provides one; the returned shape is
// a subset of the harness's `MariaDb` (url, port, database, stop, logs) so swapping is an import.
//
//   mkdtemp → mariadb-install-db (datadir) → mariadbd on 127.0.0.1:<free port> → SELECT 1
//   → CREATE DATABASE → { url }        stop(): SIGTERM, SIGKILL after 10 s, remove the temp dir
//
// Never the system server on :3306. Every wait is bounded; a mariadbd that exits early fails the
// start with its log tail.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";

const execFileAsync = promisify(execFile);
const SEARCH_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"];

export interface PrivateMariaDb {
  /** mysql://root@127.0.0.1:PORT/<database> */
  readonly url: string;
  readonly port: number;
  readonly database: string;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

function findBinary(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error(`${name} not found (PATH, ${SEARCH_DIRS.join(", ")}); install MariaDB or set ${envVar}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startPrivateMariaDb(opts: { database?: string; readyTimeoutMs?: number } = {}): Promise<PrivateMariaDb> {
  const database = opts.database ?? "switchyard_test";
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const mariadbd = findBinary("mariadbd", "MARIADBD");
  const installDb = findBinary("mariadb-install-db", "MARIADB_INSTALL_DB");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-db-test-"));
  const dataDir = path.join(dir, "data");
  const log: string[] = [];
  let child: ChildProcess | undefined;

  const cleanup = async () => {
    if (child && !exited(child)) {
      const done = new Promise<void>((r) => child!.once("exit", () => r()));
      child.kill("SIGTERM");
      const stopped = await Promise.race([done.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        child.kill("SIGKILL");
        await Promise.race([done, sleep(5_000)]);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await execFileAsync(
      installDb,
      [
        "--no-defaults",
        "--auth-root-authentication-method=normal",
        `--datadir=${dataDir}`,
        "--skip-test-db",
        "--user=root",
      ],
      { timeout: 60_000 },
    );

    const port = await freePort();
    child = spawn(
      mariadbd,
      [
        "--no-defaults",
        `--datadir=${dataDir}`,
        `--socket=${path.join(dir, "mariadb.sock")}`,
        `--pid-file=${path.join(dir, "mariadb.pid")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--innodb-flush-log-at-trx-commit=2",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const capture = (chunk: Buffer) => {
      log.push(...chunk.toString().split("\n").filter(Boolean));
      if (log.length > 500) log.splice(0, log.length - 500);
    };
    child.stdout!.on("data", capture);
    child.stderr!.on("data", capture);

    const deadline = Date.now() + readyTimeoutMs;
    let lastError: unknown;
    for (;;) {
      if (exited(child)) throw new Error(`mariadbd exited during start (code ${child.exitCode}, signal ${child.signalCode})`);
      if (Date.now() > deadline) throw new Error(`mariadbd not ready within ${readyTimeoutMs} ms: ${String(lastError)}`);
      try {
        const conn = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1_000 });
        try {
          await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        } finally {
          await conn.end();
        }
        break;
      } catch (err) {
        lastError = err;
        await sleep(50);
      }
    }

    return {
      url: `mysql://root@127.0.0.1:${port}/${database}`,
      port,
      database,
      stop: cleanup,
      logs: (maxLines = 50) => log.slice(-maxLines).join("\n"),
    };
  } catch (err) {
    const tail = log.slice(-20).join("\n");
    await cleanup();
    throw new Error(`private mariadbd failed to start: ${err instanceof Error ? err.message : String(err)}${tail ? `\n${tail}` : ""}`, {
      cause: err,
    });
  }
}
