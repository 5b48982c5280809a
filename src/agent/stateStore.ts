// The agent's state directory (mode 0700; it holds the deployments' env values):
//
//   agent.lock    pid + start time of the agent using it (one agent per directory)
//   state.json    the desired state and the resume point (desiredState.ts), written atomically
//                 after applies succeed, so a restart resumes from what was really applied
//   instances/    the driver's own records, working directories and logs (processDriver.ts)

import path from "node:path";
import { DesiredState, type DesiredStateFile } from "./desiredState.js";
import { readJson, writeJsonAtomic } from "../cluster/client/files.js";
import { StateDirLock } from "../cluster/client/stateDirLock.js";

export class StateStore {
  private writing: Promise<void> = Promise.resolve();
  private pending: Promise<void> | undefined;

  /** One agent per directory: acquire() before load(), release() after the last save(). */
  readonly lock: StateDirLock;

  constructor(readonly stateDir: string) {
    this.lock = new StateDirLock(stateDir, "agent");
  }

  private get stateFile() {
    return path.join(this.stateDir, "state.json");
  }

  async load(): Promise<DesiredState> {
    return DesiredState.fromFile(await readJson<DesiredStateFile>(this.stateFile));
  }

  /**
   * Writes the state as it is when the write starts. Calls while a write runs coalesce into one
   * more write after it; the promise resolves once a write that saw this call's state is done.
   */
  save(state: DesiredState): Promise<void> {
    this.pending ??= this.writing.then(() => {
      this.pending = undefined;
      return writeJsonAtomic(this.stateFile, state.toFile());
    });
    this.writing = this.pending.catch(() => undefined);
    return this.pending;
  }
}
