// What the control plane wants this region to run, as the agent last heard it, and how far that
// is applied. Every deployment has a record: its desired state (null once it is removed from the
// region), the feed version of the newest state received, and the newest version applied.
//
// The resume point ("cursor") is the highest feed version up to which every change is applied:
// the newest version received, lowered to just below the oldest record whose newest state is not
// applied yet. Resuming there re-delivers that change (and perhaps some already applied, which
// changes nothing), so a change whose apply failed is retried — never skipped — while the other
// deployments go on converging.

export type DesiredStatusName = "running" | "standby" | "stopped";

export interface DesiredDeployment {
  deploymentId: string;
  workspaceId: string;
  projectId: string;
  environmentId: string;
  region: string;
  status: DesiredStatusName;
  replicas: number;
  image: string;
  command: string[];
  env: Record<string, string>;
  port: number;
  healthCheckPath: string;
  /** How long an instance may take to become healthy; undefined = the agent's default. */
  startupTimeoutMs?: number;
}

export interface DesiredRecord {
  /** null: removed from the region — its instances are stopped, then the record is forgotten. */
  desired: DesiredDeployment | null;
  /** Feed version of the newest state received. */
  version: bigint;
  /** Newest version whose apply succeeded. */
  applied: bigint;
}

/** On-disk form (state.json). */
export interface DesiredStateFile {
  format: 1;
  /** The resume point when this was written: every change up to it was applied. */
  appliedVersion: string;
  records: Record<string, { desired: DesiredDeployment | null; version: string; applied: string }>;
}

export class DesiredState {
  private readonly records = new Map<string, DesiredRecord>();
  /** Feed position of the newest message received. */
  private received = 0n;

  static fromFile(file: DesiredStateFile | undefined): DesiredState {
    const state = new DesiredState();
    if (!file) return state;
    if (file.format !== 1) throw new Error(`state.json has format ${String(file.format)}; this agent reads format 1`);
    state.received = BigInt(file.appliedVersion);
    for (const [id, record] of Object.entries(file.records)) {
      state.records.set(id, { desired: record.desired, version: BigInt(record.version), applied: BigInt(record.applied) });
    }
    return state;
  }

  toFile(): DesiredStateFile {
    const records: DesiredStateFile["records"] = {};
    for (const [id, r] of this.records) records[id] = { desired: r.desired, version: String(r.version), applied: String(r.applied) };
    return { format: 1, appliedVersion: String(this.cursor), records };
  }

  /** The resume point: every change up to this version is applied. */
  get cursor(): bigint {
    let cursor = this.received;
    for (const r of this.records.values()) {
      if (r.applied < r.version && r.version - 1n < cursor) cursor = r.version - 1n;
    }
    return cursor < 0n ? 0n : cursor;
  }

  get(deploymentId: string): DesiredRecord | undefined {
    return this.records.get(deploymentId);
  }

  deploymentIds(): string[] {
    return [...this.records.keys()];
  }

  /** A change from the feed: the deployment's current state (or its removal) at `version`. */
  receive(deploymentId: string, desired: DesiredDeployment | null, version: bigint): void {
    if (version > this.received) this.received = version;
    const record = this.records.get(deploymentId);
    if (!record) {
      if (desired) this.records.set(deploymentId, { desired, version, applied: 0n });
      return;
    }
    // The feed always carries the deployment's current state, so the last one received wins.
    record.desired = desired;
    if (version > record.version) record.version = version;
  }

  /**
   * A bootstrap snapshot: the region's whole desired state at feed position `position`. Every
   * record is applied again; a deployment missing from it was removed meanwhile.
   */
  receiveSnapshot(entries: { desired: DesiredDeployment; version: bigint }[], position: bigint): void {
    const seen = new Set<string>();
    for (const { desired, version } of entries) {
      seen.add(desired.deploymentId);
      this.records.set(desired.deploymentId, { desired, version, applied: 0n });
    }
    for (const id of this.records.keys()) {
      if (!seen.has(id)) this.records.set(id, { desired: null, version: position, applied: 0n });
    }
    this.received = position;
  }

  /** A periodic resync's answer: the current state, outside the feed (the cursor is unaffected). */
  refresh(deploymentId: string, desired: DesiredDeployment | null): boolean {
    const record = this.records.get(deploymentId);
    if (!record || JSON.stringify(record.desired) === JSON.stringify(desired)) return false;
    record.desired = desired;
    return true;
  }

  /** The apply of `version` succeeded. A removed deployment whose instances are gone is forgotten. */
  markApplied(deploymentId: string, version: bigint): void {
    const record = this.records.get(deploymentId);
    if (!record) return;
    if (version > record.applied) record.applied = version;
    if (record.desired === null && record.applied >= record.version) this.records.delete(deploymentId);
  }
}
