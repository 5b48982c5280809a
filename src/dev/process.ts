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
// Post-mortems: every signal is sent through sendSignal() with who sent it (the harness, the
// test), so a death names its sender — or a cause the owner knows (explainSignal: a fault marker
// the process wrote before killing itself), or says that none of those sent it. When a child
// fails (failure()) or dies on its own, its temp dir and those of the children running beside it
// are kept if this Node process then exits non-zero (a failing test file), and their paths are
// printed; a passing file removes them as usual. SWITCHYARD_KEEP_TEMP=1 keeps every temp dir.
//
// A program that shuts its children down itself on a signal (the dev stack: switchyard first,
// then restate-server, then mariadbd) calls configureProcessRegistry({ handleSignals: false })
// before starting anything; the exit hook still SIGKILLs whatever is left when it exits.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeUsage } from "./processUsage.js";

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
  /**
   * Asked when the process died of a signal nobody sent through sendSignal(): a cause its owner
   * knows of (the harness's switchyard reads the fault marker the process wrote before it
   * SIGKILLed itself). Returns a phrase like "a fault marker: …", or undefined.
   */
  explainSignal?: (pid: number) => string | undefined;
}

const EXIT_WAIT_MS = 10_000;

/** Every ManagedProcess ever created in this Node process, until it is stopped. */
const registry = new Set<ManagedProcess>();
/** Temp dirs to remove at exit if nobody removed them before. */
const tempDirs = new Set<string>();
/** Temp dirs kept for a post-mortem if this process exits non-zero, with why. */
const postMortemDirs = new Map<string, string>();
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
  process.on("exit", (code) => cleanupSync(code));
  if (!handleSignals) return;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      const code = 128 + (os.constants.signals[signal] ?? 0);
      cleanupSync(code);
      process.exit(code);
    });
  }
}

/**
 * Kills every child still running and removes every registered temp dir, synchronously. With a
 * non-zero `exitCode` (a failing test file, an interrupted run) the post-mortem dirs stay and
 * their paths are printed.
 */
export function cleanupSync(exitCode = 0): void {
  for (const proc of registry) proc.killSync("the harness (exit cleanup)");
  registry.clear();
  if (keepTemp()) return;
  const failing = exitCode !== 0;
  for (const dir of tempDirs) {
    const why = postMortemDirs.get(dir);
    if (failing && why !== undefined) {
      process.stderr.write(`harness: kept ${dir} for a post-mortem (${why})\n`);
      continue;
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
  postMortemDirs.clear();
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

/**
 * Removes a temp dir made by makeTempDir (kept when SWITCHYARD_KEEP_TEMP=1). A dir kept for a
 * post-mortem waits for the exit, which removes it only if this process passes.
 */
export async function removeTempDir(dir: string): Promise<void> {
  if (postMortemDirs.has(dir)) return;
  tempDirs.delete(dir);
  if (keepTemp()) return;
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
}

/** The temp dir (made by makeTempDir) holding `file`, if any. */
function tempDirOf(file: string): string | undefined {
  for (const dir of tempDirs) if (file.startsWith(`${dir}${path.sep}`)) return dir;
  return undefined;
}

/** The test file this process runs (node --test runs each file in its own process), if any. */
function testFile(): string | undefined {
  const script = process.argv[1];
  if (!process.env.NODE_TEST_CONTEXT || !script) return undefined;
  return path.relative(process.cwd(), script);
}

/** A line of our own in a child's log ("--- <time> starting …", "--- <time> ended (exited: code 0)"). */
function appendLogLine(logFile: string, line: string): void {
  try {
    fs.appendFileSync(logFile, `\n--- ${new Date().toISOString()} ${line}\n`);
  } catch {
    // The log's directory may already be gone (a test removed its temp dir): nothing to tell.
  }
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

/** A signal and who sent it through sendSignal(). */
interface SentSignal {
  signal: NodeJS.Signals;
  by: string;
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
  /** Signals sent to the current run, oldest first. */
  private sent: SentSignal[] = [];

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
    appendLogLine(this.logFile, `starting ${this.opts.command} ${this.opts.args.join(" ")}`);
    const fd = fs.openSync(this.logFile, "a");
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
    this.sent = [];
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      child.once("error", (error) => {
        this.lastExit = { code: null, signal: null, error };
        resolve(this.lastExit);
      });
      child.once("exit", (code, signal) => {
        this.lastExit = { code, signal };
        // The log then tells how the run ended even when the program's own last line is lost.
        appendLogLine(this.logFile, `ended ${this.describeExit()}`);
        if (!this.expectedExit(this.lastExit)) this.keepForPostMortem(`${this.name} ${this.describeExit()}`);
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

  /**
   * How the last run ended and, for a signal, who sent it: "exited: signal SIGKILL, sent by the
   * harness (kill())". Empty while it runs.
   */
  describeExit(): string {
    const exit = this.lastExit;
    if (!exit) return "";
    if (exit.error) return `(could not run: ${exit.error.message})`;
    if (!exit.signal) return `(exited: code ${exit.code})`;
    return `(exited: signal ${exit.signal}, sent by ${this.signalSender(exit.signal)})`;
  }

  private signalSender(signal: NodeJS.Signals): string {
    const sent = [...this.sent].reverse().find((s) => s.signal === signal);
    if (sent) return sent.by;
    return (
      this.opts.explainSignal?.(this.pid) ??
      "an unknown sender — not the harness, a fault marker or the test; another process, or the kernel's OOM killer"
    );
  }

  /** An exit somebody asked for: after a signal we sent or explained, or a clean exit. */
  private expectedExit(exit: ExitInfo): boolean {
    if (exit.error) return false;
    if (this.sent.length > 0) return true;
    if (exit.signal) return this.opts.explainSignal?.(this.pid) !== undefined;
    return exit.code === 0;
  }

  /**
   * Keeps this process's temp dir and those of the children running beside it (their logs tell
   * what they did meanwhile) if this Node process exits non-zero.
   */
  private keepForPostMortem(why: string): void {
    const where = testFile();
    const reason = where ? `${why}, in ${where}` : why;
    for (const proc of [this, ...registry]) {
      const dir = tempDirOf(proc.logFile);
      if (dir && !postMortemDirs.has(dir)) postMortemDirs.set(dir, proc === this ? reason : `beside ${this.name}: ${reason}`);
    }
  }

  /**
   * An Error naming the process, the test file, how it exited (and who signalled it), the
   * problem, and its log — the last lines inline and the path of the whole file, kept if the
   * test file fails.
   */
  failure(problem: string, maxLines = 30): Error {
    const exit = this.lastExit ? ` ${this.describeExit()}` : "";
    const where = testFile();
    this.keepForPostMortem(`${this.name}: ${problem}`);
    const kept = tempDirOf(this.logFile) ? " (kept if this test file fails)" : "";
    return new Error(
      `${this.name} (pid ${this.pids.at(-1) ?? "-"})${where ? ` in ${where}` : ""}${exit}: ${problem}\n` +
        `--- last ${maxLines} log lines of ${this.logFile}${kept} ---\n${this.logs(maxLines)}\n--- end of ${this.name} log ---`,
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
        throw this.failure(`not ready after ${timeoutMs} ms: ${what}${detail}; ${describeUsage(this.pid)}`);
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
  async kill(by = "the harness (kill())"): Promise<void> {
    if (!this.running) return;
    this.sendSignal("SIGKILL", by);
    const exit = await this.waitExit(EXIT_WAIT_MS);
    if (!exit) throw this.failure(`did not exit within ${EXIT_WAIT_MS} ms of SIGKILL`);
  }

  /** SIGTERM, then SIGKILL after the grace period; waits for the exit (bounded). */
  async stop(): Promise<void> {
    if (this.running) {
      const graceMs = this.opts.stopTimeoutMs ?? 5000;
      this.sendSignal("SIGTERM", "the harness (stop())");
      const exit = await this.waitExit(graceMs);
      if (!exit) await this.kill(`the harness (stop(): still running ${graceMs} ms after SIGTERM)`);
    }
    registry.delete(this);
  }

  /** Stops the process if it runs, then spawns it again (same command, env, cwd, log file). */
  async restart(): Promise<number> {
    if (this.running) await this.stop();
    return this.start();
  }

  /** Synchronous SIGKILL without waiting (exit hooks). */
  killSync(by = "the harness (killSync())"): void {
    if (this.running) this.sendSignal("SIGKILL", by);
  }

  /**
   * Sends `signal` to the current run, recording `by` (e.g. "the test") so that its death names
   * who caused it. Does nothing once it exited.
   */
  sendSignal(signal: NodeJS.Signals, by: string): void {
    if (!this.running) return;
    this.sent.push({ signal, by });
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
