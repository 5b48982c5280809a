import fs from "node:fs";
import path from "node:path";
import { identify, stillRunning, type ProcessIdentity } from "../../agent/processIdentity.js";
import { readJson, writeJsonAtomic } from "./files.js";

export class StateDirInUseError extends Error {
  override name = "StateDirInUseError";
}

/**
 * One agent or gateway per state directory (mode 0700: it may hold env values and the applied
 * configs). The lock file holds the holder's pid and start time, so a lock left by a process
 * that died — or whose pid was recycled — is taken over, and a live holder is refused.
 */
export class StateDirLock {
  constructor(
    readonly stateDir: string,
    private readonly kind: "agent" | "gateway",
  ) {}

  private get file() {
    return path.join(this.stateDir, `${this.kind}.lock`);
  }

  async acquire(): Promise<void> {
    await fs.promises.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await fs.promises.chmod(this.stateDir, 0o700);
    const holder = await readJson<ProcessIdentity>(this.file).catch(() => undefined);
    if (holder && holder.pid !== process.pid && stillRunning(holder)) {
      throw new StateDirInUseError(`another ${this.kind} (pid ${holder.pid}) uses the state directory ${this.stateDir}`);
    }
    const me = identify(process.pid);
    if (!me) throw new Error("cannot read this process's start time from /proc");
    await writeJsonAtomic(this.file, me);
  }

  async release(): Promise<void> {
    const holder = await readJson<ProcessIdentity>(this.file).catch(() => undefined);
    if (holder?.pid === process.pid) await fs.promises.rm(this.file, { force: true });
  }
}
