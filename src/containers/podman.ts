// podman as a library: every call is one bounded child process (time and output), with the
// runtime flags detected for this machine and, optionally, a storage directory of its own
// (`--root`/`--runroot`, see storageFlags: tests and the dev stack keep images and containers
// apart from the machine's). No shell is involved: arguments are passed as they are.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { findBinary } from "../dev/binaries.js";
import { detectRuntimeFlags, lowerLimit, ulimitFlags, type RuntimeFlags } from "./runtimeFlags.js";

export interface PodmanOptions {
  /** Storage of its own: images under <dir>/storage, runtime state under <dir>/run. */
  storageDir?: string;
  /** Registries (host:port) spoken to over plain HTTP or with an unverified certificate. */
  insecureRegistries?: string[];
  flags?: RuntimeFlags;
}

export interface PodmanResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last `maxOutputBytes` of stderr. */
  stderr: string;
  timedOut: boolean;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bound on what is kept of each stream (the tail is kept). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Called with every chunk of output (stdout and stderr), e.g. for a build log. */
  onOutput?: (chunk: string) => void;
  cwd?: string;
}

export class PodmanError extends Error {
  override name = "PodmanError";
  constructor(
    message: string,
    readonly result: PodmanResult,
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const ABORT_GRACE_MS = 5_000;

export class Podman {
  readonly binary: string;
  readonly flags: RuntimeFlags;
  private readonly global: string[];

  constructor(readonly opts: PodmanOptions = {}) {
    const binary = findBinary("podman");
    if (!binary) throw new Error("podman not found: apt-get install podman runc");
    this.binary = binary;
    this.flags = opts.flags ?? detectRuntimeFlags();
    this.global = [...this.flags.global];
    if (opts.storageDir) this.global.push(...storageFlags(opts.storageDir));
  }

  /** `--tls-verify=false` for a configured insecure registry, nothing otherwise. */
  tlsFlags(reference: string): string[] {
    const host = reference.split("/")[0]!;
    return this.opts.insecureRegistries?.includes(host) ? ["--tls-verify=false"] : [];
  }

  /** Runs `podman <args>`; never throws for a non-zero exit (see `ok`). */
  run(args: string[], call: CallOptions = {}): Promise<PodmanResult> {
    const max = call.maxOutputBytes ?? 1024 * 1024;
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, [...this.global, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: call.cwd, detached: true });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      const keep = (buffer: string, chunk: string) => {
        const joined = buffer + chunk;
        return joined.length > max ? joined.slice(joined.length - max) : joined;
      };
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout = keep(stdout, chunk);
        call.onOutput?.(chunk);
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = keep(stderr, chunk);
        call.onOutput?.(chunk);
      });
      // The whole group: podman build starts helpers (buildah, runc) that must end with it.
      const kill = () => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, call.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      // Cancelled: SIGTERM first, so podman removes what it made (a build's working container and
      // its overlay mount), then the whole group after a grace period.
      const onAbort = () => {
        try {
          process.kill(child.pid!, "SIGTERM");
        } catch {
          // already gone
        }
        setTimeout(kill, ABORT_GRACE_MS).unref();
      };
      call.signal?.addEventListener("abort", onAbort, { once: true });
      if (call.signal?.aborted) onAbort();
      child.once("error", (error) => {
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onAbort);
        reject(error);
      });
      // `podman run --detach` leaves conmon holding our pipes open: the exit decides, and what is
      // still buffered in the pipes is read for a moment before they are let go.
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onAbort);
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          child.stdout.destroy();
          child.stderr.destroy();
          resolve({ code, signal, stdout, stderr, timedOut });
        };
        child.once("close", finish);
        setTimeout(finish, 100).unref();
      });
    });
  }

  /** The --ulimit flags for commands that start containers (run, build). */
  limitFlags(): string[] {
    return ulimitFlags(this.flags);
  }

  /**
   * Runs a command that starts containers with the limit flags; when the runtime refuses a limit
   * it is lowered (for every later call too) and the command runs again after `beforeRetry`.
   */
  async runLimited(args: (limits: string[]) => string[], call: CallOptions = {}, beforeRetry?: () => Promise<void>): Promise<PodmanResult> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.run(args(this.limitFlags()), call);
      if (result.code === 0 || attempt >= 10 || call.signal?.aborted || !lowerLimit(this.flags, `${result.stderr}\n${result.stdout}`)) return result;
      await beforeRetry?.();
    }
  }

  /** Runs `podman <args>` and returns stdout; a failure throws PodmanError with podman's own message. */
  async ok(args: string[], call: CallOptions = {}): Promise<string> {
    const result = await this.run(args, call);
    if (result.code === 0) return result.stdout;
    const why = result.timedOut ? `timed out after ${Math.round((call.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s` : lastLines(result.stderr || result.stdout, 5) || `exit ${result.code ?? result.signal}`;
    throw new PodmanError(`podman ${args[0]}: ${why}`, result);
  }
}

/**
 * `--root <dir>/storage --runroot <tmp>/switchyard-podman-<hash of dir>`: podman refuses a runroot
 * longer than 50 characters, so the runtime state (lost on reboot anyway) lives in a short path
 * derived from the storage directory — the same one for every process using that storage.
 */
export function storageFlags(storageDir: string): string[] {
  const hash = createHash("sha256").update(path.resolve(storageDir)).digest("hex").slice(0, 16);
  return ["--root", path.join(storageDir, "storage"), "--runroot", path.join(os.tmpdir(), `switchyard-podman-${hash}`)];
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}
