// ManagedProcess: one child process of the dev stack (`npm run dev`) or the test harness.
//
//   spawn ──► stdout+stderr appended to <tempdir>/<name>.log (read back by logs())
//     │
//     ├─ kill()    SIGKILL, wait for exit (bounded)
//     ├─ stop()    SIGTERM, wait; SIGKILL after a bounded grace; wait
//     └─ restart() stop if running, spawn again with the same command, env and log file
//
// Every instance is put in a process-wide registry. When this Node process exits (normally, on
// an uncaught error, or on SIGINT/SIGTERM/SIGHUP) every child still running is SIGKILLed and
// every registered temp dir is removed, so an interrupted or failing test leaves nothing behind.
// Children write to a file rather than to pipes and are unref'd: a test that forgets stop()
// cannot keep its test file's process alive; the exit hook then kills what it left.
//
// A program that shuts its children down itself on a signal (the dev stack: switchyard first,
// then restate-server, then mariadbd) calls configureProcessRegistry({ handleSignals: false })
// before starting anything; the exit hook still SIGKILLs whatever is left when it exits.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export interface ManagedProcessOptions {
  /** Short name used in messages and as the log file name ("mariadbd", "restate-server"). */
  name: string;
  command: string;
  args: string[];
  /** The complete environment of the child (not merged with process.env). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go (appended). */
  logFile: string;
  /** Grace period between SIGTERM and SIGKILL in stop(). Default 5000 ms. */
  stopTimeoutMs?: number;
  /**
   * Run the child in its own process group, so a Ctrl-C in the terminal (SIGINT to the whole
   * foreground group) reaches only this process, which then stops its children in order.
   */
  detached?: boolean;
}

const EXIT_WAIT_MS = 10_000;

/** Every ManagedProcess ever created in this Node process, until it is stopped. */
const registry = new Set<ManagedProcess>();
/** Temp dirs to remove at exit if nobody removed them before. */
const tempDirs = new Set<string>();
let hooksInstalled = false;
let handleSignals = true;

/**
 * handleSignals (default true): on SIGINT/SIGTERM/SIGHUP, SIGKILL every child and exit with
 * 128+signal. Set it to false, before the first ManagedProcess or temp dir, in a program that
 * handles those signals itself.
 */
export function configureProcessRegistry(opts: { handleSignals: boolean }): void {
  if (hooksInstalled && handleSignals !== opts.handleSignals) {
    throw new Error("configureProcessRegistry: call it before the first ManagedProcess or makeTempDir");
  }
  handleSignals = opts.handleSignals;
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", cleanupSync);
  if (!handleSignals) return;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanupSync();
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    });
  }
}

/** Kills every child still running and removes every registered temp dir, synchronously. */
export function cleanupSync(): void {
  for (const proc of registry) proc.killSync();
  registry.clear();
  if (keepTemp()) return;
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

/** Managed processes still running (for assertions in tests). */
export function runningProcesses(): ManagedProcess[] {
  return [...registry].filter((p) => p.running);
}

function keepTemp(): boolean {
  return process.env.SWITCHYARD_KEEP_TEMP === "1" || process.env.SWITCHYARD_KEEP_TEMP === "true";
}

/** Creates os.tmpdir()/switchyard-<name>-XXXXXX, removed by removeTempDir() or at exit. */
export async function makeTempDir(name: string): Promise<string> {
  installExitHooks();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `switchyard-${name}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a temp dir made by makeTempDir (kept when SWITCHYARD_KEEP_TEMP=1). */
export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  if (keepTemp()) return;
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Last `maxLines` lines of a file (reads at most the last 64 KiB). */
export function tailFile(file: string, maxLines = 40): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-maxLines).join("\n");
  } catch {
    return "(no log output)";
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  /** Every pid this instance has had (one per start). */
  readonly pids: number[] = [];
  private readonly opts: ManagedProcessOptions;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitInfo> | undefined;
  private lastExit: ExitInfo | undefined;

  constructor(opts: ManagedProcessOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.logFile = opts.logFile;
    installExitHooks();
  }

  /** Spawns the process. Throws if it is already running or cannot be spawned. */
  start(): number {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const fd = fs.openSync(this.logFile, "a");
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} starting ${this.opts.command} ${this.opts.args.join(" ")}\n`);
    let child: ChildProcess;
    try {
      child = spawn(this.opts.command, this.opts.args, {
        cwd: this.opts.cwd,
        env: this.opts.env ?? process.env,
        stdio: ["ignore", fd, fd],
        detached: this.opts.detached ?? false,
      });
    } finally {
      fs.closeSync(fd);
    }
    this.lastExit = undefined;
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      child.once("error", (error) => {
        this.lastExit = { code: null, signal: null, error };
        resolve(this.lastExit);
      });
      child.once("exit", (code, signal) => {
        this.lastExit = { code, signal };
        resolve(this.lastExit);
      });
    });
    if (child.pid === undefined) {
      throw new Error(`${this.name}: could not spawn ${this.opts.command} (is it installed and executable?)`);
    }
    child.unref();
    this.child = child;
    this.pids.push(child.pid);
    registry.add(this);
    return child.pid;
  }

  /** Current pid (or the last one, after it exited). */
  get pid(): number {
    const pid = this.pids.at(-1);
    if (pid === undefined) throw new Error(`${this.name} was never started`);
    return pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.lastExit === undefined;
  }

  /** Resolves when the current run exits (never rejects); undefined before the first start. */
  whenExited(): Promise<ExitInfo> | undefined {
    return this.exitPromise;
  }

  /** How the last run ended, if it has. */
  get exitInfo(): ExitInfo | undefined {
    return this.lastExit;
  }

  /** The last lines the process wrote (stdout and stderr interleaved), across restarts. */
  logs(maxLines = 40): string {
    return tailFile(this.logFile, maxLines);
  }

  /** An Error naming the process, the problem and its last log lines. */
  failure(problem: string, maxLines = 30): Error {
    const exit = this.lastExit
      ? ` (exited: ${this.lastExit.error ? this.lastExit.error.message : `code ${this.lastExit.code}, signal ${this.lastExit.signal}`})`
      : "";
    return new Error(
      `${this.name} (pid ${this.pids.at(-1) ?? "-"})${exit}: ${problem}\n` +
        `--- last ${maxLines} log lines of ${this.logFile} ---\n${this.logs(maxLines)}\n--- end of ${this.name} log ---`,
    );
  }

  /**
   * Polls `check` until it returns true, at most `timeoutMs`. Fails early, with the log, when
   * the process exits meanwhile; on timeout the error names the process, what was awaited,
   * the last check error and the last log lines.
   */
  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 25): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (!this.running) throw this.failure(`exited while waiting for ${what}`);
      try {
        if (await check()) return;
        lastError = undefined;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
        throw this.failure(`not ready after ${timeoutMs} ms: ${what}${detail}`);
      }
      await sleep(intervalMs);
    }
  }

  /** Resolves when the current run has exited, or rejects after `timeoutMs`. */
  private async waitExit(timeoutMs: number): Promise<ExitInfo | undefined> {
    if (!this.exitPromise) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.exitPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait for the exit (bounded). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal("SIGKILL");
    const exit = await this.waitExit(EXIT_WAIT_MS);
    if (!exit) throw this.failure(`did not exit within ${EXIT_WAIT_MS} ms of SIGKILL`);
  }

  /** SIGTERM, then SIGKILL after the grace period; waits for the exit (bounded). */
  async stop(): Promise<void> {
    if (this.running) {
      this.signal("SIGTERM");
      const exit = await this.waitExit(this.opts.stopTimeoutMs ?? 5000);
      if (!exit) await this.kill();
    }
    registry.delete(this);
  }

  /** Stops the process if it runs, then spawns it again (same command, env, cwd, log file). */
  async restart(): Promise<number> {
    if (this.running) await this.stop();
    return this.start();
  }

  /** Synchronous SIGKILL without waiting (exit hooks). */
  killSync(): void {
    if (this.running) this.signal("SIGKILL");
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
}

/** True if a process with this pid exists (signal 0 probe). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
