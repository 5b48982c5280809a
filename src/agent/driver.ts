// The Driver interface: how the agent runs instances, whatever runs them. The agent decides what
// should run (reconciler.ts) and whether it is healthy (health.ts); a driver only starts, stops,
// lists and observes runs. The process driver (processDriver.ts) runs local child processes; a
// container or Kubernetes driver implements the same four calls (docs/architecture.md, "Agent").

/** What to run for one instance of a deployment. */
export interface InstanceSpec {
  /** Stable for the instance's life: `<deployment>-<region>-<slot>`. */
  instanceId: string;
  deploymentId: string;
  slot: number;
  /** OCI image reference (recorded; the process driver does not pull it). */
  image: string;
  /** The deployment's command; empty = the image's default. */
  command: string[];
  /** The deployment's environment variables. */
  env: Record<string, string>;
  /** Port the application declares (0 = none); a driver may choose the real one. */
  port: number;
}

/** One run of an instance: a restart is a new run of the same instance. */
export interface InstanceRun {
  instanceId: string;
  deploymentId: string;
  slot: number;
  /** Unique per start. */
  runId: string;
  /** "host:port" where the run answers HTTP. */
  address: string;
  /** When it was started (ms since the epoch). */
  startedAt: number;
}

export type Observation = { state: "running" } | { state: "exited"; detail: string };

/**
 * The deployment cannot be started this way (no command, a program that does not exist): a failed
 * start of the instance, reported and retried with backoff like a crash — not a failure of the
 * agent to apply a change.
 */
export class InstanceStartError extends Error {
  override name = "InstanceStartError";
}

export interface Driver {
  readonly name: string;
  /**
   * Starts a run. `preferredAddress` (the previous run's) is kept when still free, so gateways
   * keep reaching the instance at the same address. Throws InstanceStartError for a spec that
   * cannot run; any other error is the agent's own trouble (disk, permissions) and is retried.
   */
  start(spec: InstanceSpec, preferredAddress?: string): Promise<InstanceRun>;
  /** Stops a run (politely, then forcibly after the grace period); resolves once it is gone. */
  stop(run: InstanceRun): Promise<void>;
  /** Every run this driver started that is still alive, including those of an earlier agent process. */
  list(): Promise<InstanceRun[]>;
  /** Whether a run is still alive, and how it ended if not. */
  observe(run: InstanceRun): Promise<Observation>;
  /** The last lines a run of the instance wrote, for a FAILED report. */
  logTail(instanceId: string, maxLines: number): Promise<string>;
  /** Forgets an instance whose deployment is stopped for good (its working directory, its logs). */
  remove(instanceId: string): Promise<void>;
  /** Periodic housekeeping (the process driver bounds its log files here). */
  maintain(): Promise<void>;
  /** Called with a run that ended on its own, as soon as the driver notices. */
  onExit(listener: (run: InstanceRun) => void): void;
}
