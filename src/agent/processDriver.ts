// The process driver: every instance is a local child process running the deployment's command.
// Unsandboxed — it runs with the agent's user and sees its machine — so it is meant for
// development, tests and single-tenant machines. The image reference is recorded, not pulled.
//
//   <state>/instances/<instance id>/
//     run.json     the current run: run id, pid + start time, address (written before the spawn,
//                  then with the pid, so a crash in between still finds the process by its run id)
//     work/        the working directory
//     output.log   stdout + stderr (bounded: moved to output.log.1 past the size limit)
//
// Each run gets PORT = a free loopback port (the previous run's when still free, so the address
// the gateways know stays valid), SWITCHYARD_INSTANCE_ID and SWITCHYARD_RUN_ID, the deployment's
// env and the agent's PATH — nothing else of the agent's environment (its token stays its own).
// Runs are detached (their own process group) and write straight to their log file, so they
// outlive an agent that is SIGKILLed and the next agent process adopts them (list()).

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { newId } from "../db/ids.js";
import { killAfterStepIfRequested } from "../faults.js";
import { freePort, LOOPBACK, portFree } from "../dev/net.js";
import { tailFile } from "../dev/process.js";
import type { Driver, InstanceRun, InstanceSpec, Observation } from "./driver.js";
import { InstanceStartError } from "./driver.js";
import { readJson, writeJsonAtomic } from "../cluster/client/files.js";
import { findProcessesByEnvironment, identify, signalGroup, stillRunning, type ProcessIdentity } from "./processIdentity.js";

export interface ProcessDriverOptions {
  stateDir: string;
  /** How long a run may take to exit after SIGTERM before it gets SIGKILL. */
  stopGraceMs: number;
  /** Size above which an instance's output.log is moved to output.log.1. */
  logMaxBytes: number;
  log: Logger;
}

interface RunRecord extends InstanceRun {
  pid?: number;
  startTime?: string;
  command: string[];
}

interface Child {
  process: ChildProcess;
  /** How it ended, once it has. */
  exit?: string;
}

const KILL_WAIT_MS = 5000;

export class ProcessDriver implements Driver {
  readonly name = "process";
  private readonly records = new Map<string, RunRecord>();
  private readonly children = new Map<string, Child>();
  private readonly exitListeners: ((run: InstanceRun) => void)[] = [];
  private readonly instancesDir: string;

  constructor(private readonly opts: ProcessDriverOptions) {
    this.instancesDir = path.join(opts.stateDir, "instances");
  }

  onExit(listener: (run: InstanceRun) => void): void {
    this.exitListeners.push(listener);
  }

  async start(spec: InstanceSpec, preferredAddress?: string): Promise<InstanceRun> {
    if (spec.command.length === 0) {
      throw new InstanceStartError(`the process driver runs the deployment's command and this deployment has none (its image ${spec.image} is recorded, not pulled)`);
    }
    const dir = this.dirOf(spec.instanceId);
    const previous = await readJson<RunRecord>(path.join(dir, "run.json"));
    const previousIdentity = previous && identityOf(previous);
    if (previousIdentity && stillRunning(previousIdentity)) {
      // Never two runs of one instance: the old one must be stopped first.
      throw new Error(`instance ${spec.instanceId} still runs as pid ${previousIdentity.pid}`);
    }
    const workDir = path.join(dir, "work");
    await fs.promises.mkdir(workDir, { recursive: true, mode: 0o700 });
    const port = await choosePort(preferredAddress);
    const record: RunRecord = {
      instanceId: spec.instanceId,
      deploymentId: spec.deploymentId,
      slot: spec.slot,
      runId: newId("run"),
      address: `${LOOPBACK}:${port}`,
      startedAt: Date.now(),
      command: spec.command,
    };
    await writeJsonAtomic(path.join(dir, "run.json"), record);

    const logFd = fs.openSync(path.join(dir, "output.log"), "a", 0o600);
    let child: ChildProcess;
    try {
      fs.writeSync(logFd, `--- ${new Date(record.startedAt).toISOString()} ${record.runId} starting on port ${port}: ${spec.command.join(" ")}\n`);
      child = spawn(spec.command[0]!, spec.command.slice(1), {
        cwd: workDir,
        env: {
          PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
          ...spec.env,
          PORT: String(port),
          SWITCHYARD_INSTANCE_ID: spec.instanceId,
          SWITCHYARD_RUN_ID: record.runId,
        },
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
    } finally {
      fs.closeSync(logFd);
    }
    if (child.pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once("error", resolve));
      await fs.promises.rm(path.join(dir, "run.json"), { force: true });
      throw new InstanceStartError(`could not start ${spec.command[0]}: ${error.message}`);
    }
    child.unref();
    // Durability tests die here: spawned, but the pid not recorded yet (list() finds it by run id).
    killAfterStepIfRequested("process driver: spawned", { id: record.runId, target: `agent/${spec.instanceId}` });
    const entry: Child = { process: child };
    child.once("exit", (code, signal) => {
      entry.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      for (const listener of this.exitListeners) listener(publicRun(record));
    });
    this.children.set(record.runId, entry);
    record.pid = child.pid;
    record.startTime = identify(child.pid)?.startTime;
    this.records.set(record.runId, record);
    await writeJsonAtomic(path.join(dir, "run.json"), record);
    return publicRun(record);
  }

  async observe(run: InstanceRun): Promise<Observation> {
    const child = this.children.get(run.runId);
    if (child) return child.exit ? { state: "exited", detail: child.exit } : { state: "running" };
    const identity = identityOf(this.records.get(run.runId));
    if (identity && stillRunning(identity)) return { state: "running" };
    return { state: "exited", detail: "ended (started by an earlier agent process, so its exit status is unknown)" };
  }

  async stop(run: InstanceRun): Promise<void> {
    const record = this.records.get(run.runId);
    const identity = identityOf(record);
    if (identity && signalGroup(identity, "SIGTERM")) {
      if (!(await this.waitGone(run.runId, identity, this.opts.stopGraceMs))) {
        this.opts.log.warn({ instanceId: run.instanceId, pid: identity.pid }, "instance did not stop within the grace period: SIGKILL");
        signalGroup(identity, "SIGKILL");
        if (!(await this.waitGone(run.runId, identity, KILL_WAIT_MS))) throw new Error(`instance ${run.instanceId} (pid ${identity.pid}) survived SIGKILL`);
      }
    }
    this.records.delete(run.runId);
    this.children.delete(run.runId);
    const file = path.join(this.dirOf(run.instanceId), "run.json");
    const current = await readJson<RunRecord>(file).catch(() => undefined);
    if (!current || current.runId === run.runId) await fs.promises.rm(file, { force: true });
  }

  async list(): Promise<InstanceRun[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.instancesDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const alive: InstanceRun[] = [];
    for (const name of names) {
      const file = path.join(this.instancesDir, name, "run.json");
      const record = await readJson<RunRecord>(file).catch(() => undefined);
      if (!record) continue;
      let identity = identityOf(record);
      if (!identity) {
        // Written just before its spawn: the agent died in between. Its run id finds it.
        const [pid, ...more] = findProcessesByEnvironment(`SWITCHYARD_RUN_ID=${record.runId}`);
        identity = pid !== undefined && more.length === 0 ? identify(pid) : undefined;
        if (identity) await writeJsonAtomic(file, { ...record, pid: identity.pid, startTime: identity.startTime });
      }
      if (identity && stillRunning(identity)) {
        this.records.set(record.runId, { ...record, pid: identity.pid, startTime: identity.startTime });
        alive.push(publicRun(record));
      } else {
        await fs.promises.rm(file, { force: true });
      }
    }
    return alive;
  }

  async logTail(instanceId: string, maxLines: number): Promise<string> {
    const current = path.join(this.dirOf(instanceId), "output.log");
    const size = await fs.promises.stat(current).then((s) => s.size, () => 0);
    return tailFile(size > 0 ? current : `${current}.1`, maxLines);
  }

  async remove(instanceId: string): Promise<void> {
    const running = [...this.records.values()].some((r) => r.instanceId === instanceId);
    if (!running) await fs.promises.rm(this.dirOf(instanceId), { recursive: true, force: true });
  }

  async maintain(): Promise<void> {
    const names = await fs.promises.readdir(this.instancesDir).catch(() => [] as string[]);
    for (const name of names) {
      const log = path.join(this.instancesDir, name, "output.log");
      const size = await fs.promises.stat(log).then((s) => s.size, () => 0);
      if (size <= this.opts.logMaxBytes) continue;
      // Copy, then truncate in place: the run keeps writing to the same (O_APPEND) file.
      await fs.promises.copyFile(log, `${log}.1`);
      await fs.promises.truncate(log, 0);
    }
  }

  private dirOf(instanceId: string): string {
    return path.join(this.instancesDir, instanceId);
  }

  /** Waits until the run is gone: its exit event for a child of ours, /proc for an adopted one. */
  private async waitGone(runId: string, identity: ProcessIdentity, timeoutMs: number): Promise<boolean> {
    const child = this.children.get(runId);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child ? child.exit !== undefined : !stillRunning(identity)) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return child ? child.exit !== undefined : !stillRunning(identity);
  }
}

function identityOf(record: RunRecord | undefined): ProcessIdentity | undefined {
  return record?.pid && record.startTime ? { pid: record.pid, startTime: record.startTime } : undefined;
}

function publicRun(record: RunRecord): InstanceRun {
  return {
    instanceId: record.instanceId,
    deploymentId: record.deploymentId,
    slot: record.slot,
    runId: record.runId,
    address: record.address,
    startedAt: record.startedAt,
  };
}

/** The previous run's port when it is still free, else any free loopback port. */
async function choosePort(preferredAddress: string | undefined): Promise<number> {
  const preferred = Number(preferredAddress?.split(":").at(-1));
  if (Number.isInteger(preferred) && preferred > 0 && (await portFree(preferred))) return preferred;
  return freePort();
}
