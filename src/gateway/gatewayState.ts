// What the gateway knows: every gateway config of the feed (all tenants; each carries every
// region's upstreams), and the feed version it reflects. The watch loop changes it; the
// desired RouterState of the region is derived from it (src/router/regionRoutes.ts).
//
// state.json (in the state directory, written atomically after each successful apply) holds
// the configs as they were applied and that version, so a restarted gateway serves the same
// state at once and resumes the feed from there.

import path from "node:path";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { GatewayConfigSchema, type GatewayConfig } from "../gen/ctrl/v1/resources_pb.js";
import { readJson, writeJsonAtomic } from "../cluster/client/files.js";
import { StateDirLock } from "../cluster/client/stateDirLock.js";

export class GatewayState {
  readonly configs = new Map<string, GatewayConfig>();
  /** Newest feed version received (every change up to it is in `configs`). */
  cursor = 0n;

  upsert(config: GatewayConfig, version: bigint): void {
    this.configs.set(config.hostname, config);
    if (version > this.cursor) this.cursor = version;
  }

  remove(hostname: string, version: bigint): void {
    this.configs.delete(hostname);
    if (version > this.cursor) this.cursor = version;
  }

  replace(snapshot: GatewayConfig[], version: bigint): void {
    this.configs.clear();
    for (const config of snapshot) this.configs.set(config.hostname, config);
    this.cursor = version;
  }

  /** The configs sorted by hostname (a copy: later changes do not touch it). */
  list(): GatewayConfig[] {
    return [...this.configs.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  }
}

interface StateFile {
  appliedVersion: string;
  configs: unknown[];
}

export class GatewayStateStore {
  private writing: Promise<void> = Promise.resolve();

  /** One gateway per directory: acquire() before load(), release() after the last save(). */
  readonly lock: StateDirLock;

  constructor(readonly stateDir: string) {
    this.lock = new StateDirLock(stateDir, "gateway");
  }

  private get stateFile() {
    return path.join(this.stateDir, "state.json");
  }

  /** The state last applied; empty (cursor 0: bootstrap) on a first start. */
  async load(): Promise<GatewayState> {
    const state = new GatewayState();
    const file = await readJson<StateFile>(this.stateFile);
    if (file) state.replace(file.configs.map((c) => fromJson(GatewayConfigSchema, c as never)), BigInt(file.appliedVersion));
    return state;
  }

  /** Records what was applied; writes run one after another, in call order. */
  save(version: bigint, configs: readonly GatewayConfig[]): Promise<void> {
    const file: StateFile = { appliedVersion: String(version), configs: configs.map((c) => toJson(GatewayConfigSchema, c)) };
    this.writing = this.writing.catch(() => undefined).then(() => writeJsonAtomic(this.stateFile, file));
    return this.writing;
  }
}
