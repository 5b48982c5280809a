// The gateway's watch loop: WatchGatewayConfigs for its region with the resume protocol of
// ClusterService (proto/ctrl/v1/cluster.proto), as the agent's (src/agent/watchLoop.ts):
//
//   cursor 0 (first start, or after FailedPrecondition) ──► bootstrap: collect the snapshot
//       until bootstrap_complete, then replace every config with it (hostnames missing from it
//       were removed)
//   cursor v > 0 ──► resume: every later upsert / tombstone, in version order
//   the stream breaks ──► reconnect after a jittered, bounded backoff, from the cursor
//   FailedPrecondition (v pruned, or ahead of the feed) ──► bootstrap
//
// After every change (and after a snapshot) `onChange` derives and offers the desired state;
// the apply queue coalesces the offers.

import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import { abortableSleep } from "../api/abortableSleep.js";
import type { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import type { GatewayConfig } from "../gen/ctrl/v1/resources_pb.js";
import { Backoff } from "../cluster/client/backoff.js";
import type { GatewayState } from "./gatewayState.js";
import { gatewayWatchConnects } from "../telemetry/gatewayMetrics.js";

export interface GatewayWatchOptions {
  client: Client<typeof ClusterService>;
  region: string;
  gatewayId: string;
  state: GatewayState;
  onChange: () => void;
  log: Logger;
  signal: AbortSignal;
}

export async function runGatewayWatchLoop(opts: GatewayWatchOptions): Promise<void> {
  const { client, region, gatewayId, state, onChange, log, signal } = opts;
  const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  let bootstrap = state.cursor === 0n;
  while (!signal.aborted) {
    const from = bootstrap ? 0n : state.cursor;
    const snapshot: GatewayConfig[] = [];
    let live = from !== 0n;
    try {
      log.info({ fromVersion: String(from) }, from === 0n ? "watching gateway configs: bootstrap" : "watching gateway configs: resume");
      gatewayWatchConnects.inc({ mode: from === 0n ? "bootstrap" : "resume" });
      for await (const message of client.watchGatewayConfigs({ region, fromVersion: from, agentId: gatewayId }, { signal })) {
        backoff.reset();
        const { change } = message;
        if (change.case === "upsert") {
          if (!live) snapshot.push(change.value);
          else {
            state.upsert(change.value, message.version);
            onChange();
          }
        } else if (change.case === "tombstone" && live) {
          state.remove(change.value.hostname, message.version);
          onChange();
        } else if (change.case === "bootstrapComplete") {
          state.replace(snapshot, message.version);
          live = true;
          bootstrap = false;
          log.info({ hostnames: snapshot.length, version: String(message.version) }, "bootstrap complete");
          onChange();
        }
      }
      log.info("watch stream ended by the server; reconnecting");
    } catch (error) {
      if (signal.aborted) return;
      const connectError = ConnectError.from(error);
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
