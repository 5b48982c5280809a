// The reconciler: makes each deployment's instances match its desired state, one deployment at a
// time (never two converges of one deployment at once), every deployment independently.
//
//   running  ──► `replicas` slots, each with one run: started when missing (after its restart
//                backoff), health-checked (fast while starting, every health interval after),
//                restarted when it exits, fails 3 checks in a row, or never becomes healthy
//   standby  ──► every run stopped; working directories and logs kept, ready to come back
//   stopped / removed ──► every run stopped, then the instances forgotten
//
// A converge runs when the deployment's desired state changes, when one of its runs exits, and
// when its next check or restart is due. Its apply counts as done (DesiredState.markApplied) once
// every slot has been acted on; an error of the agent's own (disk, permissions) leaves it unapplied
// and it is tried again on a backoff. Each converge ends with a report (deduplicated by Reporter).
//
// Runs found at start (Driver.list: left by an earlier agent process) are "unclaimed" until their
// deployment's converge claims them for their slot; those no desired state wants are stopped by
// sweep(), which runs only once the desired state is known for sure (never on a guess).

import type { Logger } from "pino";
import { sleep } from "../dev/process.js";
import { Backoff } from "../cluster/client/backoff.js";
import type { DesiredDeployment, DesiredState } from "./desiredState.js";
import { InstanceStartError, type Driver, type InstanceRun, type InstanceSpec } from "./driver.js";
import { checkHealth } from "./health.js";
import { healthChecks, instanceRestarts } from "./metrics.js";
import { instanceIdFor } from "./instanceId.js";
import { overdueSlot, redactedTail, regionReport, type RegionReport, type SlotObservation } from "./regionReport.js";
import type { Reporter } from "./reporter.js";

export interface ReconcilerOptions {
  region: string;
  driver: Driver;
  desired: DesiredState;
  reporter: Reporter;
  log: Logger;
  /** Between health checks of a healthy run. */
  healthIntervalMs: number;
  /** Of one health check request. */
  healthTimeoutMs: number;
  /** Default time a run may take to become healthy. */
  startupTimeoutMs: number;
  /** After an apply succeeded (the caller persists the state). */
  onApplied: () => void;
}

/** Consecutive failed checks after which a healthy run is restarted. */
const FAILED_CHECKS_TO_RESTART = 3;
/** A run healthy this long resets its slot's restart backoff. */
const STABLE_MS = 30_000;
const LOG_TAIL_LINES = 20;
/** First health check of a new run, and the start of the startup checks' easing. */
const FIRST_CHECK_MS = 25;

interface Slot {
  index: number;
  instanceId: string;
  run?: InstanceRun;
  healthy: boolean;
  /** Since when the slot has had no healthy run (undefined while healthy). */
  unhealthySince?: number;
  healthySince?: number;
  failedChecks: number;
  detail?: string;
  nextCheckAt: number;
  checkDelayMs: number;
  nextStartAt: number;
  restarts: Backoff;
  lastAddress?: string;
}

interface Deployment {
  slots: Slot[];
  converging: boolean;
  again: boolean;
  timer?: NodeJS.Timeout;
  applyBackoff: Backoff;
  retryApplyAt?: number;
}

export class Reconciler {
  private readonly deployments = new Map<string, Deployment>();
  private unclaimed: InstanceRun[] = [];
  private closed = false;

  constructor(private readonly opts: ReconcilerOptions) {
    opts.driver.onExit((run) => this.kick(run.deploymentId));
  }

  /** Runs found alive at start: claimed by their deployments' converges, or stopped by sweep(). */
  adopt(runs: InstanceRun[]): void {
    this.unclaimed.push(...runs);
    for (const deploymentId of new Set(runs.map((r) => r.deploymentId))) this.kick(deploymentId);
  }

  /** Converges `deploymentId` soon (again, if a converge is running). */
  kick(deploymentId: string): void {
    if (this.closed) return;
    const deployment = this.deploymentFor(deploymentId);
    if (deployment.converging) {
      deployment.again = true;
      return;
    }
    clearTimeout(deployment.timer);
    deployment.timer = undefined;
    void this.convergeLoop(deploymentId, deployment);
  }

  kickAll(): void {
    for (const id of new Set([...this.opts.desired.deploymentIds(), ...this.deployments.keys()])) this.kick(id);
  }

  /**
   * Stops the runs no desired state wants (their deployment is not running, their slot is beyond
   * its replicas or already taken). Call only when the desired state is authoritative.
   */
  async sweep(): Promise<void> {
    const unwanted = this.unclaimed.filter((run) => {
      const desired = this.opts.desired.get(run.deploymentId)?.desired;
      const slot = this.deployments.get(run.deploymentId)?.slots[run.slot];
      return !desired || desired.status !== "running" || run.slot >= desired.replicas || (slot?.run !== undefined && slot.run.runId !== run.runId);
    });
    if (unwanted.length === 0) return;
    this.unclaimed = this.unclaimed.filter((run) => !unwanted.includes(run));
    await Promise.all(
      unwanted.map(async (run) => {
        this.opts.log.info({ instanceId: run.instanceId, runId: run.runId }, "stopping a run no desired state wants");
        await this.opts.driver.stop(run).catch((error: Error) => {
          this.opts.log.error({ instanceId: run.instanceId, error: error.message }, "could not stop an unwanted run; trying again at the next sweep");
          this.unclaimed.push(run);
        });
      }),
    );
  }

  /** Every run this reconciler knows of (claimed or not). */
  runs(): InstanceRun[] {
    return [...this.unclaimed, ...[...this.deployments.values()].flatMap((d) => d.slots.flatMap((s) => (s.run ? [s.run] : [])))];
  }

  /**
   * Stops converging; waits (bounded) for converges in progress; then, unless `keepInstances`,
   * stops every run and reports them stopped.
   */
  async close(opts: { keepInstances: boolean; timeoutMs: number }): Promise<void> {
    this.closed = true;
    for (const deployment of this.deployments.values()) clearTimeout(deployment.timer);
    const deadline = Date.now() + opts.timeoutMs;
    while ([...this.deployments.values()].some((d) => d.converging) && Date.now() < deadline) await sleep(20);
    if (opts.keepInstances) return;
    await Promise.all(this.runs().map((run) => this.opts.driver.stop(run).catch((error: Error) => this.opts.log.error({ instanceId: run.instanceId, error: error.message }, "could not stop instance"))));
    this.unclaimed = [];
    for (const [deploymentId, deployment] of this.deployments) {
      const record = this.opts.desired.get(deploymentId);
      if (!record?.desired || deployment.slots.length === 0) continue;
      for (const slot of deployment.slots) {
        slot.run = undefined;
        slot.healthy = false;
      }
      this.opts.reporter.report(deploymentId, {
        status: "pending",
        message: "the agent stopped its instances while shutting down",
        instances: deployment.slots.map((s) => ({ instanceId: s.instanceId, status: "stopped", address: "", message: "agent shut down" })),
        observedVersion: record.version,
      });
    }
  }

  private deploymentFor(deploymentId: string): Deployment {
    let deployment = this.deployments.get(deploymentId);
    if (!deployment) {
      deployment = { slots: [], converging: false, again: false, applyBackoff: new Backoff({ initialMs: 250, maxMs: 10_000 }) };
      this.deployments.set(deploymentId, deployment);
    }
    return deployment;
  }

  private async convergeLoop(deploymentId: string, deployment: Deployment): Promise<void> {
    deployment.converging = true;
    try {
      do {
        deployment.again = false;
        await this.converge(deploymentId, deployment);
      } while (deployment.again && !this.closed);
    } finally {
      deployment.converging = false;
    }
    this.scheduleNext(deploymentId, deployment);
  }

  private async converge(deploymentId: string, deployment: Deployment): Promise<void> {
    const record = this.opts.desired.get(deploymentId);
    const version = record?.version ?? 0n;
    const desired = record?.desired ?? null;
    try {
      if (desired?.status === "running") await this.convergeRunning(desired, deployment);
      else await this.convergeDown(deploymentId, desired, deployment, record !== undefined);
      deployment.applyBackoff.reset();
      deployment.retryApplyAt = undefined;
      if (record && record.applied < version) {
        this.opts.desired.markApplied(deploymentId, version);
        this.opts.onApplied();
      }
    } catch (error) {
      const delay = deployment.applyBackoff.next();
      const retryAt = Date.now() + delay;
      deployment.retryApplyAt = retryAt;
      for (const slot of deployment.slots) if (!slot.run && slot.nextStartAt < retryAt) slot.nextStartAt = retryAt;
      this.opts.log.error({ deploymentId, version: String(version), error: (error as Error).message, retryInMs: delay }, "apply failed; retrying");
    }
    if (desired) this.opts.reporter.report(deploymentId, await this.report(desired, deployment, version));
    if (!this.opts.desired.get(deploymentId)) this.deployments.delete(deploymentId);
  }

  private async convergeRunning(desired: DesiredDeployment, deployment: Deployment): Promise<void> {
    const now = Date.now();
    this.ensureSlots(desired.deploymentId, deployment, desired.replicas);
    for (const slot of deployment.slots) if (!slot.healthy && slot.unhealthySince === undefined) slot.unhealthySince = now;
    // Runs of an earlier agent process: each takes its slot back (the first health check decides).
    for (const run of this.unclaimed.filter((r) => r.deploymentId === desired.deploymentId)) {
      const slot = deployment.slots[run.slot];
      if (!slot || slot.run) continue;
      this.unclaimed = this.unclaimed.filter((r) => r !== run);
      Object.assign(slot, { run, healthy: false, unhealthySince: run.startedAt, nextCheckAt: now, checkDelayMs: FIRST_CHECK_MS, lastAddress: run.address });
      this.opts.log.info({ instanceId: run.instanceId, runId: run.runId, address: run.address }, "adopted a run of an earlier agent process");
    }
    const results = await Promise.allSettled(deployment.slots.slice(0, desired.replicas).map((slot) => this.tend(desired, slot)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) throw failure.reason;
  }

  /** One slot: observe its run, check its health, restart or start it when due. */
  private async tend(desired: DesiredDeployment, slot: Slot): Promise<void> {
    const startupTimeoutMs = desired.startupTimeoutMs ?? this.opts.startupTimeoutMs;
    if (slot.run) {
      const observation = await this.opts.driver.observe(slot.run);
      if (observation.state === "exited") {
        this.ended(slot, observation.detail);
      } else if (Date.now() >= slot.nextCheckAt) {
        const result = await checkHealth(slot.run.address, desired.healthCheckPath, this.opts.healthTimeoutMs);
        const now = Date.now();
        healthChecks.inc({ outcome: result.healthy ? "healthy" : "unhealthy" });
        if (result.healthy) {
          if (!slot.healthy) {
            slot.healthySince = now;
            this.opts.log.info({ instanceId: slot.instanceId, address: slot.run.address }, "instance healthy");
          }
          if (slot.healthySince !== undefined && now - slot.healthySince >= STABLE_MS) slot.restarts.reset();
          Object.assign(slot, { healthy: true, unhealthySince: undefined, failedChecks: 0, detail: undefined, nextCheckAt: now + this.opts.healthIntervalMs });
        } else if (slot.healthy) {
          slot.failedChecks++;
          slot.detail = `health check ${desired.healthCheckPath}: ${result.detail}`;
          slot.nextCheckAt = now + Math.min(1000, this.opts.healthIntervalMs);
          if (slot.failedChecks >= FAILED_CHECKS_TO_RESTART) await this.restart(slot, `failed ${slot.failedChecks} health checks (${result.detail})`);
        } else if (now - slot.run.startedAt > startupTimeoutMs) {
          await this.restart(slot, `not healthy within ${Math.round(startupTimeoutMs / 1000)} s (${result.detail})`);
        } else {
          slot.detail = `starting; health check ${desired.healthCheckPath}: ${result.detail}`;
          // Fast while starting (the deploy waits on it), easing off for a slow starter.
          slot.checkDelayMs = Math.min(Math.round(slot.checkDelayMs * 1.5), 250);
          slot.nextCheckAt = now + slot.checkDelayMs;
        }
      }
    }
    if (!slot.run && Date.now() >= slot.nextStartAt) {
      try {
        slot.run = await this.opts.driver.start(this.spec(desired, slot), slot.lastAddress);
      } catch (error) {
        if (!(error instanceof InstanceStartError)) throw error;
        this.ended(slot, error.message);
        return;
      }
      Object.assign(slot, { lastAddress: slot.run.address, healthy: false, checkDelayMs: FIRST_CHECK_MS, nextCheckAt: Date.now() + FIRST_CHECK_MS });
      this.opts.log.info({ instanceId: slot.instanceId, runId: slot.run.runId, address: slot.run.address }, "instance started");
    }
  }

  private async restart(slot: Slot, reason: string): Promise<void> {
    this.opts.log.warn({ instanceId: slot.instanceId, reason }, "restarting instance");
    await this.opts.driver.stop(slot.run!);
    this.ended(slot, reason);
  }

  /** The slot's run is gone: a new one starts after the slot's restart backoff. */
  private ended(slot: Slot, detail: string): void {
    const now = Date.now();
    const delay = slot.restarts.next();
    if (slot.run) {
      instanceRestarts.inc();
      this.opts.log.warn({ instanceId: slot.instanceId, detail, restartInMs: delay }, "instance ended");
    }
    Object.assign(slot, {
      run: undefined,
      healthy: false,
      unhealthySince: slot.unhealthySince ?? now,
      failedChecks: 0,
      detail: `${detail}; restart ${slot.restarts.attempts}`,
      nextStartAt: now + delay,
    });
  }

  /**
   * Stops the deployment's runs. Runs of an earlier agent process are included only when the
   * desired state says something about this deployment (`known`); otherwise sweep() decides.
   */
  private async convergeDown(deploymentId: string, desired: DesiredDeployment | null, deployment: Deployment, known: boolean): Promise<void> {
    const runs = [
      ...deployment.slots.flatMap((s) => (s.run ? [s.run] : [])),
      ...(known ? this.unclaimed.filter((r) => r.deploymentId === deploymentId) : []),
    ];
    if (runs.length > 0) this.opts.log.info({ deploymentId, status: desired?.status ?? "removed", runs: runs.length }, "stopping instances");
    for (const run of runs) {
      await this.opts.driver.stop(run);
      this.unclaimed = this.unclaimed.filter((r) => r !== run);
      const slot = deployment.slots[run.slot];
      if (slot?.run?.runId === run.runId) Object.assign(slot, { run: undefined, healthy: false });
    }
    this.ensureSlots(deploymentId, deployment, desired?.replicas ?? deployment.slots.length);
    // Coming back from standby starts afresh: no backoff, a new startup window.
    for (const slot of deployment.slots) Object.assign(slot, { unhealthySince: undefined, nextStartAt: 0, detail: undefined, restarts: restartBackoff() });
    if (!desired || desired.status === "stopped") {
      for (const slot of deployment.slots) await this.opts.driver.remove(slot.instanceId);
    }
  }

  /** Slots 0…count-1 exist (new ones have no run yet and start at once). */
  private ensureSlots(deploymentId: string, deployment: Deployment, count: number): void {
    while (deployment.slots.length < count) {
      const index = deployment.slots.length;
      deployment.slots.push({
        index,
        instanceId: instanceIdFor(deploymentId, this.opts.region, index),
        healthy: false,
        failedChecks: 0,
        nextCheckAt: 0,
        checkDelayMs: FIRST_CHECK_MS,
        nextStartAt: 0,
        restarts: restartBackoff(),
      });
    }
  }

  private async report(desired: DesiredDeployment, deployment: Deployment, version: bigint): Promise<RegionReport> {
    const now = Date.now();
    const startupTimeoutMs = desired.startupTimeoutMs ?? this.opts.startupTimeoutMs;
    const count = desired.status === "running" ? desired.replicas : deployment.slots.length || desired.replicas;
    const slots: SlotObservation[] = Array.from({ length: count }, (_, index) => {
      const slot = deployment.slots[index];
      return {
        instanceId: slot?.instanceId ?? instanceIdFor(desired.deploymentId, this.opts.region, index),
        address: slot?.run?.address ?? slot?.lastAddress,
        running: slot?.run !== undefined,
        healthy: slot?.healthy ?? false,
        unhealthySince: slot ? slot.unhealthySince : now,
        detail: slot?.detail,
      };
    });
    const overdue = desired.status === "running" ? overdueSlot(slots, now, startupTimeoutMs) : undefined;
    const logTail = overdue ? redactedTail(await this.opts.driver.logTail(overdue.instanceId, LOG_TAIL_LINES), desired.env) : undefined;
    return regionReport(desired, slots, { now, startupTimeoutMs, version, logTail });
  }

  private spec(desired: DesiredDeployment, slot: Slot): InstanceSpec {
    return {
      instanceId: slot.instanceId,
      deploymentId: desired.deploymentId,
      slot: slot.index,
      image: desired.image,
      command: desired.command,
      env: desired.env,
      port: desired.port,
    };
  }

  /** The next converge of this deployment: its next check or restart, or a failed apply's retry. */
  private scheduleNext(deploymentId: string, deployment: Deployment): void {
    if (this.closed || !this.deployments.has(deploymentId)) return;
    const desired = this.opts.desired.get(deploymentId)?.desired;
    const now = Date.now();
    const due: number[] = [];
    if (deployment.retryApplyAt !== undefined) due.push(deployment.retryApplyAt);
    if (desired?.status === "running") {
      const startupTimeoutMs = desired.startupTimeoutMs ?? this.opts.startupTimeoutMs;
      for (const slot of deployment.slots.slice(0, desired.replicas)) {
        due.push(slot.run ? slot.nextCheckAt : slot.nextStartAt);
        // The report turns FAILED when the startup timeout passes, even with nothing else due.
        const overdueAt = slot.unhealthySince === undefined ? undefined : slot.unhealthySince + startupTimeoutMs + 1;
        if (overdueAt !== undefined && overdueAt > now) due.push(overdueAt);
      }
    }
    if (due.length === 0) return;
    const delay = Math.max(0, Math.min(Math.min(...due) - now, this.opts.healthIntervalMs));
    clearTimeout(deployment.timer);
    deployment.timer = setTimeout(() => this.kick(deploymentId), delay);
  }
}

/** Between restarts of a slot's run: 0.5 s doubling to 30 s. */
function restartBackoff(): Backoff {
  return new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
}
