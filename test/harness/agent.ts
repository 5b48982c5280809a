// `switchyard agent` as a real child process (node --import tsx src/main.ts agent), with its own
// state directory in a temp dir. Restartable and SIGKILL-able like switchyard: kill() leaves its
// instances running (they are detached, as in production) for the next start to adopt; stop()
// sends SIGTERM, so the agent stops its instances itself. Whatever instance is still recorded in
// the state directory when the test process exits is killed too (by pid + start time, never a
// recycled pid), so a failing test leaves no app processes behind.

import fs from "node:fs";
import path from "node:path";
import type { DesiredStateFile } from "../../src/agent/desiredState.js";
import { findProcessesByEnvironment, identify, signalGroup, stillRunning } from "../../src/agent/processIdentity.js";
import { repoRoot } from "./binaries.js";
import { removeAllContainers, resetStorage } from "./containers.js";
import { processControls } from "./controls.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";
import { freePort, LOOPBACK } from "./net.js";
import { SWITCHYARD_START_TIMEOUT_MS, switchyardArgs } from "./switchyardCommand.js";

export interface AgentOptions {
  /** Switchyard's API URL. */
  url: string;
  /** SWITCHYARD_AGENT_TOKEN. */
  token: string;
  region?: string;
  /** Extra environment (SWITCHYARD_AGENT_* settings, fault switches…). */
  env?: Record<string, string>;
  /** Extra arguments after `agent`. */
  args?: string[];
  name?: string;
  /** Container driver: a podman storage of the agent's own (in its temp dir), removed with it. */
  containers?: { insecureRegistries: string[] };
  /** How long start()/restart() wait for the agent to claim its state directory. Default 20 s. */
  readyTimeoutMs?: number;
}

export interface RunRecordOnDisk {
  instanceId: string;
  deploymentId: string;
  slot: number;
  runId: string;
  address: string;
  pid?: number;
  startTime?: string;
}

export interface Agent {
  readonly stateDir: string;
  /** "127.0.0.1:PORT" of its /metrics endpoint. */
  readonly metricsAddress: string;
  readonly process: ManagedProcess;
  readonly pid: number;
  /** SIGKILL: the instances keep running. */
  kill(): Promise<void>;
  /** Start again with the same state directory and environment (after kill() or stop()). */
  restart(): Promise<void>;
  /** SIGTERM (the agent stops its instances), then removes the state directory. */
  stop(): Promise<void>;
  logs(maxLines?: number): string;
  /** state.json as the agent last wrote it. */
  state(): DesiredStateFile | undefined;
  /** The resume point in state.json (0 before the first write). */
  appliedVersion(): bigint;
  /** The run records of the process driver (instances/<id>/run.json). */
  runs(): RunRecordOnDisk[];
  /** The container driver's podman storage (undefined for the process driver). */
  readonly podmanStorage: string | undefined;
}

const recordedStateDirs = new Set<string>();
const podmanStorages = new Set<string>();
process.on("exit", () => {
  for (const dir of recordedStateDirs) killRecordedRuns(dir);
  for (const dir of podmanStorages) removeAllContainers(dir);
});

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const name = opts.name ?? "agent";
  const baseDir = await makeTempDir(name);
  const stateDir = path.join(baseDir, "state");
  recordedStateDirs.add(stateDir);
  const metricsListen = `${LOOPBACK}:${await freePort()}`;
  const podmanStorage = opts.containers ? path.join(baseDir, "podman") : undefined;
  if (podmanStorage) podmanStorages.add(podmanStorage);
  const containerEnv: Record<string, string> = opts.containers
    ? {
        SWITCHYARD_AGENT_DRIVER: "container",
        SWITCHYARD_AGENT_PODMAN_STORAGE: podmanStorage!,
        SWITCHYARD_AGENT_INSECURE_REGISTRIES: opts.containers.insecureRegistries.join(","),
        // Its labels scope the containers it adopts: one name per harness agent.
        SWITCHYARD_AGENT_ID: `${name}-${path.basename(baseDir)}`,
      }
    : {};
  const proc = new ManagedProcess({
    name,
    command: process.execPath,
    args: switchyardArgs("agent", ...(opts.args ?? [])),
    env: {
      ...process.env,
      SWITCHYARD_LOG_LEVEL: "info",
      SWITCHYARD_URL: opts.url,
      SWITCHYARD_AGENT_TOKEN: opts.token,
      SWITCHYARD_AGENT_REGION: opts.region ?? "local",
      SWITCHYARD_AGENT_STATE_DIR: stateDir,
      SWITCHYARD_AGENT_STOP_GRACE: "3s",
      SWITCHYARD_AGENT_METRICS_LISTEN: metricsListen,
      ...containerEnv,
      ...opts.env,
    },
    cwd: repoRoot,
    logFile: path.join(baseDir, `${name}.log`),
    stopTimeoutMs: 20_000,
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? SWITCHYARD_START_TIMEOUT_MS;
  const lockFile = path.join(stateDir, "agent.lock");
  const waitReady = () =>
    proc.waitUntil(
      "the agent to claim its state directory",
      async () => {
        try {
          return JSON.parse(fs.readFileSync(lockFile, "utf8")).pid === proc.pid;
        } catch {
          return false;
        }
      },
      readyTimeoutMs,
      25,
    );
  proc.start();
  try {
    await waitReady();
  } catch (error) {
    await proc.kill().catch(() => undefined);
    killRecordedRuns(stateDir);
    if (podmanStorage) removeAllContainers(podmanStorage);
    throw error;
  }
  const readState = (): DesiredStateFile | undefined => {
    try {
      return JSON.parse(fs.readFileSync(path.join(stateDir, "state.json"), "utf8")) as DesiredStateFile;
    } catch {
      return undefined;
    }
  };
  return {
    stateDir,
    metricsAddress: opts.env?.SWITCHYARD_AGENT_METRICS_LISTEN ?? metricsListen,
    process: proc,
    get pid() {
      return proc.pid;
    },
    ...processControls(name, proc, {
      ready: waitReady,
      async cleanup() {
        killRecordedRuns(stateDir);
        recordedStateDirs.delete(stateDir);
        if (podmanStorage) {
          removeAllContainers(podmanStorage);
          resetStorage(podmanStorage);
          podmanStorages.delete(podmanStorage);
        }
        await removeTempDir(baseDir);
      },
    }),
    state: readState,
    appliedVersion: () => BigInt(readState()?.appliedVersion ?? "0"),
    runs: () => readRuns(stateDir),
    podmanStorage,
  };
}

function readRuns(stateDir: string): RunRecordOnDisk[] {
  const dir = path.join(stateDir, "instances");
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    try {
      return [JSON.parse(fs.readFileSync(path.join(dir, name, "run.json"), "utf8")) as RunRecordOnDisk];
    } catch {
      return [];
    }
  });
}

/** SIGKILLs every recorded run that is still the process the agent started. */
function killRecordedRuns(stateDir: string): void {
  for (const run of readRuns(stateDir)) {
    // A record without a pid was written just before a spawn the agent did not live to record.
    const identities = run.pid && run.startTime ? [{ pid: run.pid, startTime: run.startTime }] : findProcessesByEnvironment(`SWITCHYARD_RUN_ID=${run.runId}`).flatMap((pid) => identify(pid) ?? []);
    for (const identity of identities) if (stillRunning(identity)) signalGroup(identity, "SIGKILL");
  }
}
