// The watch loop: WatchDeployments for the agent's region, with the resume protocol of
// ClusterService (proto/ctrl/v1/cluster.proto).
//
//   cursor 0 (first start, or after FailedPrecondition) ──► bootstrap: collect the snapshot until
//       bootstrap_complete, then replace the desired state with it (deployments missing from it
//       were removed)
//   cursor v > 0 ──► resume: every later change, in version order, applied one by one
//   the stream breaks ──► reconnect after a jittered, bounded backoff, from the cursor
//   FailedPrecondition (v older than the retained changes, or ahead of the feed) ──► bootstrap
//
// The cursor is DesiredState's: the newest version up to which every change is applied.

import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { abortableSleep } from "../api/abortableSleep.js";
import { type ClusterService, type DeploymentState, DesiredStatus } from "../gen/ctrl/v1/cluster_pb.js";
import { Backoff } from "../cluster/client/backoff.js";
import { changesApplied, watchBreaks, watchConnects } from "./metrics.js";
import type { DesiredDeployment, DesiredState, DesiredStatusName } from "./desiredState.js";

export interface WatchLoopOptions {
  client: Client<typeof ClusterService>;
  region: string;
  agentId: string;
  desired: DesiredState;
  /** After the desired state of these deployments changed (a change, or a whole snapshot). */
  onChange: (deploymentIds: string[]) => void;
  /** After a bootstrap snapshot replaced the desired state: it is now known for sure. */
  onBootstrap: () => void;
  log: Logger;
  signal: AbortSignal;
}

const STATUS: Partial<Record<DesiredStatus, DesiredStatusName>> = {
  [DesiredStatus.RUNNING]: "running",
  [DesiredStatus.STANDBY]: "standby",
  [DesiredStatus.STOPPED]: "stopped",
};

/** The agent's view of a DeploymentState; an unknown desired status counts as stopped. */
export function toDesired(state: DeploymentState): DesiredDeployment {
  return {
    deploymentId: state.deploymentId,
    workspaceId: state.workspaceId,
    projectId: state.projectId,
    environmentId: state.environmentId,
    region: state.region,
    status: STATUS[state.desiredStatus] ?? "stopped",
    replicas: Math.max(1, state.replicas),
    image: state.image,
    command: [...state.command],
    env: { ...state.env },
    port: state.port,
    healthCheckPath: state.healthCheckPath || "/",
    ...(state.startupTimeout ? { startupTimeoutMs: durationMs(state.startupTimeout) } : {}),
  };
}

/** Runs until `signal` aborts. */
export async function runWatchLoop(opts: WatchLoopOptions): Promise<void> {
  const { client, region, agentId, desired, onChange, onBootstrap, log, signal } = opts;
  const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  let bootstrap = desired.cursor === 0n;
  while (!signal.aborted) {
    const from = bootstrap ? 0n : desired.cursor;
    const snapshot: { desired: DesiredDeployment; version: bigint }[] = [];
    let live = from !== 0n;
    try {
      log.info({ fromVersion: String(from) }, from === 0n ? "watching deployments: bootstrap" : "watching deployments: resume");
      watchConnects.inc({ mode: from === 0n ? "bootstrap" : "resume" });
      for await (const message of client.watchDeployments({ region, fromVersion: from, agentId }, { signal })) {
        backoff.reset();
        const { change } = message;
        if (change.case === "upsert") {
          const state = toDesired(change.value);
          if (!live) {
            snapshot.push({ desired: state, version: message.version });
          } else {
            desired.receive(state.deploymentId, state, message.version);
            changesApplied.inc();
            onChange([state.deploymentId]);
          }
        } else if (change.case === "tombstone" && live) {
          desired.receive(change.value.deploymentId, null, message.version);
          changesApplied.inc();
          onChange([change.value.deploymentId]);
        } else if (change.case === "bootstrapComplete") {
          const known = desired.deploymentIds();
          desired.receiveSnapshot(snapshot, message.version);
          live = true;
          bootstrap = false;
          log.info({ deployments: snapshot.length, version: String(message.version) }, "bootstrap complete");
          onChange([...new Set([...known, ...snapshot.map((s) => s.desired.deploymentId)])]);
          onBootstrap();
        }
      }
      log.info("watch stream ended by the server; reconnecting");
    } catch (error) {
      if (signal.aborted) return;
      const connectError = ConnectError.from(error);
      watchBreaks.inc({ code: Code[connectError.code] });
      if (connectError.code === Code.FailedPrecondition) {
        log.warn({ fromVersion: String(from), error: connectError.rawMessage }, "resume point refused; bootstrapping from 0");
        bootstrap = true;
      } else {
        log.warn({ code: Code[connectError.code], error: connectError.rawMessage }, "watch stream broke; reconnecting");
      }
    }
    await abortableSleep(backoff.next(), signal);
  }
}
