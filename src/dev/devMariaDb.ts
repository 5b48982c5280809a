// The dev stack's database: a private mariadbd with its datadir under <data>/mysql, created by
// mariadb-install-db on the first run and reused afterwards. It listens on 127.0.0.1 only,
// preferably on 3307 so it never collides with a system MySQL on 3306. Root has a generated
// password (<data>/mysql/root-password, readable by its owner only), set at every start through
// --init-file before any client can connect: any local user could reach a passwordless root on
// a TCP port.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { findBinary } from "./binaries.js";
import { installDatadir, mariadbdArgs, selectOne } from "./mariadb.js";
import { canConnect, choosePort, LOOPBACK } from "./net.js";
import { ManagedProcess } from "./process.js";
import { stopLeftoverProcess } from "./stalePid.js";

export const MISSING_MARIADB =
  "mariadbd not found: install MariaDB's server binaries (apt-get install mariadb-server), " +
  "or set DATABASE_URL=mysql://user:password@host:port/switchyard to use a MySQL 8 or MariaDB you already run";

export interface DevMariaDb {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export class DevStackError extends Error {
  override name = "DevStackError";
}

export async function startDevMariaDb(dataRoot: string, takenPorts: Set<number>, say: (line: string) => void): Promise<DevMariaDb> {
  const mariadbd = findBinary("mariadbd");
  const installDb = findBinary("mariadb-install-db");
  if (!mariadbd || !installDb) throw new DevStackError(MISSING_MARIADB);

  const dir = path.join(dataRoot, "mysql");
  const dataDir = path.join(dir, "datadir");
  const runDir = path.join(dir, "run");
  const initialised = path.join(dir, "initialised");
  await fs.promises.mkdir(path.join(runDir, "tmp"), { recursive: true });

  const leftover = await stopLeftoverProcess(path.join(runDir, "mysqld.pid"), dataDir);
  if (leftover) say(`stopped mariadbd pid ${leftover} left running by an earlier npm run dev`);

  if (!fs.existsSync(initialised)) {
    say(`initialising a MariaDB datadir in ${dataDir} (first run only)`);
    // A datadir without the marker is from an interrupted first run: start it over.
    await fs.promises.rm(dataDir, { recursive: true, force: true });
    await installDatadir(installDb, dataDir, path.join(runDir, "tmp"));
    await fs.promises.writeFile(initialised, `${new Date().toISOString()}\n`);
  }

  const port = await choosePort(3307, takenPorts);
  takenPorts.add(port);
  const password = ensureRootPassword(dir);
  const initFile = path.join(runDir, "set-root-password.sql");
  fs.writeFileSync(initFile, rootPasswordSql(password), { mode: 0o600 });
  const proc = new ManagedProcess({
    name: "mariadbd",
    command: mariadbd,
    args: mariadbdArgs({ dataDir, runDir, port, initFile }),
    env: { PATH: process.env.PATH, TZ: "UTC", HOME: dir },
    cwd: dir,
    logFile: path.join(dir, "mariadbd.log"),
    stopTimeoutMs: 20_000,
    // Its own process group: Ctrl-C reaches only the dev process, which stops children in order.
    detached: true,
  });
  const started = performance.now();
  proc.start();
  try {
    // Generous: after an unclean stop InnoDB replays its redo log first.
    await proc.waitUntil(`TCP connect to ${LOOPBACK}:${port}`, () => canConnect(port), 60_000, 50);
    await proc.waitUntil(`SELECT 1 on ${LOOPBACK}:${port}`, () => selectOne(port, password), 30_000, 50);
    if (await selectOne(port).catch(() => false)) throw new DevStackError(`mariadbd on ${LOOPBACK}:${port} still lets root in without a password`);
  } catch (error) {
    await proc.stop().catch(() => undefined);
    throw error;
  } finally {
    fs.rmSync(initFile, { force: true });
  }
  say(`mariadbd ready on ${LOOPBACK}:${port} in ${Math.round(performance.now() - started)} ms (log: ${proc.logFile})`);
  return { url: `mysql://root:${password}@${LOOPBACK}:${port}/switchyard`, pid: proc.pid, stop: () => proc.stop() };
}

/** The root password kept in `dir`, generated on first use. */
function ensureRootPassword(dir: string): string {
  const file = path.join(dir, "root-password");
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${randomBytes(24).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  return fs.readFileSync(file, "utf8").trim();
}

/** Gives every root account mariadb-install-db may have made the password (hex: nothing to escape). */
function rootPasswordSql(password: string): string {
  if (!/^[0-9a-f]+$/.test(password)) throw new DevStackError("the dev root password must be hex");
  return ["localhost", "127.0.0.1", "::1", "%"].map((host) => `ALTER USER IF EXISTS 'root'@'${host}' IDENTIFIED BY '${password}';`).join("\n") + "\nFLUSH PRIVILEGES;\n";
}
