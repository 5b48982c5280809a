// A private mariadbd per test: its own datadir copied from a per-machine template, its own
// loopback port, never the system server on :3306.
//
//   template (once per machine and MariaDB version, in os.tmpdir()), under <template>.lock:
//     mariadb-install-db → <template>.tmp-<pid>-<rand>  ──rename──►  switchyard-mariadb-template-<version>
//     (lock: one bootstrap at a time; rename + marker file: nobody sees a half-built template)
//   per instance:
//     copy template datadir → <tempdir>/data → mariadbd --no-defaults … → TCP + SELECT 1 → CREATE DATABASE

import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createDatabase, installDatadir, mariadbdArgs, selectOne } from "../../src/dev/mariadb.js";
import { commandOutput, findBinary, requireBinary } from "./binaries.js";
import { canConnect, freePort, LOOPBACK, looksLikePortClash } from "./net.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, pidAlive, removeTempDir, sleep } from "./process.js";

const execFileAsync = promisify(execFile);

export interface MariaDbOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Database created at start. Default "switchyard". */
  database?: string;
  /** Readiness deadline per start. Default 10 000 ms. */
  readyTimeoutMs?: number;
  /** Extra mariadbd flags, appended. */
  extraArgs?: string[];
}

export interface MariaDb {
  /** mysql://root@127.0.0.1:PORT/<database> */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly dataDir: string;
  /** Temp dir holding the datadir, socket and log; removed by stop(). */
  readonly baseDir: string;
  /** Current pid (changes on restart). */
  readonly pid: number;
  /** Every pid this instance has had. */
  readonly pids: readonly number[];
  /** Milliseconds the last start took until SELECT 1 answered. */
  readonly startMs: number;
  readonly process: ManagedProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port and datadir (stops first if running); waits until ready. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after a grace period) and remove the temp dir. */
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

const TEMPLATE_MARKER = "switchyard-template.ok";

let templatePromise: Promise<string> | undefined;

/** The cached template datadir for this machine's MariaDB version (built once, race-free). */
export function mariadbTemplate(): Promise<string> {
  templatePromise ??= buildTemplate().catch((error: unknown) => {
    templatePromise = undefined;
    throw error;
  });
  return templatePromise;
}

function mariadbVersion(mariadbd: string): string {
  const out = commandOutput(mariadbd, ["--no-defaults", "--version"]);
  const match = /Ver\s+(\S+)/.exec(out);
  return (match?.[1] ?? "unknown").replace(/[^A-Za-z0-9._-]/g, "_");
}

async function buildTemplate(): Promise<string> {
  const mariadbd = requireBinary("mariadbd", "mariadb-server");
  const installDb = requireBinary("mariadb-install-db", "mariadb-server");
  const root = path.join(os.tmpdir(), `switchyard-mariadb-template-${mariadbVersion(mariadbd)}`);
  const datadir = path.join(root, "datadir");
  const marker = path.join(root, TEMPLATE_MARKER);
  const lock = `${root}.lock`;
  const deadline = Date.now() + 120_000;
  // One builder per machine: concurrent bootstraps interfere with each other. The lock is a
  // directory (mkdir is atomic) holding the owner's pid; a dead owner's lock is broken.
  for (;;) {
    if (fs.existsSync(marker)) return datadir;
    try {
      await fs.promises.mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(await fs.promises.readFile(path.join(lock, "pid"), "utf8").catch(() => "0"));
    const age = Date.now() - ((await fs.promises.stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
    if ((owner > 0 && !pidAlive(owner)) || (owner === 0 && age > 10_000)) {
      await fs.promises.rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`mariadb template: still locked by pid ${owner} (${lock}) after 120 s; remove the lock if that process is gone`);
    }
    await sleep(100);
  }
  try {
    await fs.promises.writeFile(path.join(lock, "pid"), String(process.pid));
    if (fs.existsSync(marker)) return datadir;
    if (fs.existsSync(root)) {
      // Exists without its marker: not produced by the rename below (foreign or damaged).
      await fs.promises.rm(root, { recursive: true, force: true });
    }
    const staging = `${root}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
    try {
      await installDatadir(installDb, path.join(staging, "datadir"), path.join(staging, "tmp"));
      await fs.promises.rm(path.join(staging, "tmp"), { recursive: true, force: true });
      await fs.promises.writeFile(path.join(staging, TEMPLATE_MARKER), `${new Date().toISOString()}\n`);
      await fs.promises.rename(staging, root);
    } finally {
      await fs.promises.rm(staging, { recursive: true, force: true });
    }
  } finally {
    await fs.promises.rm(lock, { recursive: true, force: true });
  }
  if (!fs.existsSync(marker)) throw new Error(`mariadb template ${root} has no ${TEMPLATE_MARKER} after building it`);
  return datadir;
}

/** Copies the template datadir; `cp -a` is about twice as fast as fs.cp for it. */
async function copyDatadir(from: string, to: string): Promise<void> {
  const cp = findBinary("cp");
  if (cp) {
    await execFileAsync(cp, ["-a", from, to], { timeout: 30_000 });
  } else {
    await fs.promises.cp(from, to, { recursive: true, preserveTimestamps: true });
  }
}

export async function startMariaDb(opts: MariaDbOptions = {}): Promise<MariaDb> {
  const mariadbd = requireBinary("mariadbd", "mariadb-server");
  const template = await mariadbTemplate();
  const database = opts.database ?? "switchyard";
  if (!/^[A-Za-z0-9_]+$/.test(database)) throw new Error(`startMariaDb: bad database name "${database}"`);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const baseDir = await makeTempDir("mariadb");
  const dataDir = path.join(baseDir, "data");
  try {
    await copyDatadir(template, dataDir);
    await fs.promises.mkdir(path.join(baseDir, "tmp"));

    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freePort());
      const proc = new ManagedProcess({
        name: "mariadbd",
        command: mariadbd,
        args: [
          ...mariadbdArgs({ dataDir, runDir: baseDir, port }),
          ...(opts.extraArgs ?? []),
        ],
        env: { PATH: process.env.PATH, TZ: "UTC", HOME: baseDir },
        cwd: baseDir,
        logFile: path.join(baseDir, "mariadbd.log"),
        stopTimeoutMs: 10_000,
      });

      const waitReady = async (): Promise<number> => {
        const started = performance.now();
        await proc.waitUntil(`TCP connect to ${LOOPBACK}:${port}`, () => canConnect(port), readyTimeoutMs);
        const left = Math.max(1000, readyTimeoutMs - (performance.now() - started));
        await proc.waitUntil(`SELECT 1 on ${LOOPBACK}:${port}`, () => selectOne(port), left, 20);
        return performance.now() - started;
      };

      const started = performance.now();
      proc.start();
      try {
        await waitReady();
      } catch (error) {
        await proc.kill().catch(() => undefined);
        await proc.stop().catch(() => undefined);
        if (opts.port === undefined && attempt < 3 && looksLikePortClash(proc.logs(50))) continue;
        throw error;
      }
      let startMs = performance.now() - started;

      await createDatabase(port, database);

      return {
        url: `mysql://root@${LOOPBACK}:${port}/${database}`,
        host: LOOPBACK,
        port,
        database,
        dataDir,
        baseDir,
        get pid() {
          return proc.pid;
        },
        get pids() {
          return proc.pids;
        },
        get startMs() {
          return startMs;
        },
        process: proc,
        ...processControls("mariadbd", proc, { ready: async () => void (await waitReady()), restarted: (ms) => (startMs = ms), cleanup: () => removeTempDir(baseDir) }),
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
