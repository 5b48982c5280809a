// `switchyard gateway`: makes one region's data plane serve the gateway configs of the feed.
//
//   start ──► claim the state dir ──► load state.json (the configs last applied, their version)
//         ──► certificate endpoint (Caddy asks it at handshake) ──► offer the loaded state
//         ──► watch loop (WatchGatewayConfigs, resume protocol) ──► desired RouterState of the
//             region (readiness gate) ──► apply queue (debounce, one in flight) ──► Router
//         ──► after each successful apply: state.json ← (configs, version)
//         ──► check loop: the data plane still serves what was applied? else apply it again
//         ──► heartbeat loop (gateway_configs_version = the applied version)
//   stop  ──► stop watching ──► let the apply in flight finish ──► release
//
// Like the agent, a plain Connect client of ClusterService; it needs neither MySQL nor Restate.

import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, type Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import { abortableSleep } from "../api/abortableSleep.js";
import { clusterClient } from "../cluster/client/clusterClient.js";
import type { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import type { GatewayConfig as GatewayConfigMessage } from "../gen/ctrl/v1/resources_pb.js";
import { ApplyQueue } from "../router/applyQueue.js";
import { CaddyRouter } from "../router/caddy/caddyRouter.js";
import { regionState } from "../router/regionRoutes.js";
import type { HostRoute, Router, RouterState } from "../router/router.js";
import { VERSION } from "../version.js";
import { startCertificateEndpoint } from "./certificateEndpoint.js";
import type { GatewayConfig } from "./config.js";
import { GatewayStateStore } from "./gatewayState.js";
import { runGatewayWatchLoop } from "./watchLoop.js";
import { gatewayApplyDuration, gatewayApplyFailures, gatewayRegistry, gatewayRoutes } from "../telemetry/gatewayMetrics.js";
import { startMetricsServer } from "../telemetry/metricsServer.js";

const CALL_TIMEOUT_MS = 10_000;

export interface RunningGateway {
  stop(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const store = new GatewayStateStore(config.stateDir);
  await store.lock.acquire();
  const state = await store.load();
  const client = clusterClient(config);
  const certificates = await startCertificateEndpoint({ listen: config.certificateListen, stateDir: config.stateDir, client, region: config.region, log });
  const router = new CaddyRouter({
    adminUrl: config.caddyAdmin,
    frontAdminUrl: config.frontAdmin,
    httpListen: config.httpListen,
    httpsListen: config.httpsListen,
    routingHttpListen: config.routingHttpListen,
    routingHttpsListen: config.routingHttpsListen,
    acmeUpstream: config.acmeUpstream,
    certificateUrl: certificates.url,
    gracePeriod: `${config.gracePeriodMs}ms`,
    ...(config.caddyDataDir ? { storageDir: config.caddyDataDir } : {}),
  });

  // The configs each offered state was derived from, so the one applied is what state.json keeps.
  const sources = new WeakMap<RouterState, GatewayConfigMessage[]>();
  let offered: RouterState | undefined;
  let failing = false;
  const queue = new ApplyQueue(router, {
    debounceMs: config.debounceMs,
    onApplied: (applied, outcome, ms) => {
      if (failing) log.info({ version: String(applied.version) }, "data plane apply succeeded again");
      failing = false;
      gatewayApplyDuration.observe({ adapter: router.name, outcome }, ms / 1000);
      gatewayRoutes.set(applied.hosts.length);
      if (outcome === "applied") log.info({ version: String(applied.version), hostnames: applied.hosts.length, ms: Math.round(ms) }, "data plane updated");
      store.save(applied.version, sources.get(applied) ?? []).catch((error: Error) => log.error({ error: error.message }, "could not save state.json; the resume point stays where it was"));
    },
    onFailure: (error, attempt, attempted) => {
      failing = true;
      gatewayApplyFailures.inc({ adapter: router.name });
      log.error({ version: String(attempted.version), attempt, error: error.message }, "data plane apply failed; retrying");
    },
  });
  const offer = () => {
    const previous = new Map<string, HostRoute>((offered?.hosts ?? []).map((h) => [h.hostname, h]));
    const configs = state.list();
    const { state: desired, held } = regionState(configs, config.region, state.cursor, previous);
    if (held.length > 0) log.info({ hostnames: held.slice(0, 10), count: held.length }, "readiness gate: hostnames held on their previous deployment until the new one runs here");
    sources.set(desired, configs);
    offered = desired;
    queue.offer(desired);
  };

  log.info({ region: config.region, gatewayId: config.gatewayId, router: router.name, caddyAdmin: config.caddyAdmin, frontAdmin: config.frontAdmin, resumeFrom: String(state.cursor), hostnames: state.configs.size }, "gateway starting");
  warnWithoutRequestMigration(log);
  const metrics = config.metricsListen ? await startMetricsServer(gatewayRegistry, config.metricsListen) : undefined;
  if (metrics) log.info({ url: metrics.url }, "metrics listening");
  // The front's config does not depend on routing: loaded now, before any state is known (the
  // check loop loads it again if the front loses it; a failure here is retried by every apply).
  await router.ensureFront().then(
    (outcome) => log.info({ frontAdmin: config.frontAdmin, outcome }, "front Caddy ready"),
    (error: Error) => log.warn({ error: error.message }, "could not load the front Caddy's config yet; every apply tries again"),
  );
  if (state.cursor > 0n) offer();

  const stopping = new AbortController();
  const loops = [
    runGatewayWatchLoop({ client, region: config.region, gatewayId: config.gatewayId, state, onChange: offer, log, signal: stopping.signal }),
    checkLoop(router, queue, () => offered, config.checkIntervalMs, log, stopping.signal),
    heartbeatLoop(client, config, queue, log, stopping.signal),
  ];

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        log.info("gateway stopping");
        stopping.abort();
        await Promise.allSettled(loops);
        await queue.close();
        await certificates.close();
        await metrics?.close();
        await store.lock.release();
        log.info("gateway stopped");
      })();
      return stopped;
    },
  };
}

/**
 * Caddy 2.6 gives each config its own SO_REUSEPORT listening socket and closes the old one on
 * reload: connections still in the old socket's accept queue are reset, unless the kernel moves
 * them to the new socket (net.ipv4.tcp_migrate_req, Linux 5.14+, per network namespace).
 */
function warnWithoutRequestMigration(log: Logger): void {
  let value: string;
  try {
    value = fs.readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim();
  } catch {
    return; // not Linux, or a kernel without it: nothing to advise
  }
  if (value === "0") {
    log.warn("net.ipv4.tcp_migrate_req is 0: each Caddy reload resets the connections queued on its old listening socket; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1) in the network namespace Caddy listens in");
  }
}

/** A data plane that lost what was applied (a restarted Caddy) gets the full state again. */
async function checkLoop(router: Router, queue: ApplyQueue, latest: () => RouterState | undefined, intervalMs: number, log: Logger, signal: AbortSignal) {
  while (!signal.aborted) {
    await abortableSleep(intervalMs, signal);
    const state = latest();
    if (signal.aborted || !state || queue.appliedVersion < 0n) continue;
    try {
      if (!(await router.inSync())) {
        log.warn({ version: String(state.version) }, "the data plane no longer serves the applied config (restarted?); applying the full state again");
        queue.offer(state);
      }
    } catch (error) {
      log.warn({ error: (error as Error).message }, "could not check the data plane");
    }
  }
}

async function heartbeatLoop(client: Client<typeof ClusterService>, config: GatewayConfig, queue: ApplyQueue, log: Logger, signal: AbortSignal) {
  let intervalMs = 10_000;
  while (!signal.aborted) {
    try {
      const applied = queue.appliedVersion < 0n ? 0n : queue.appliedVersion;
      const response = await client.heartbeat(
        { region: config.region, agentId: config.gatewayId, agentVersion: VERSION, gatewayConfigsVersion: applied, idempotencyKey: randomUUID() },
        { timeoutMs: CALL_TIMEOUT_MS, signal },
      );
      if (response.interval) intervalMs = Math.min(60_000, Math.max(1_000, durationMs(response.interval)));
    } catch (error) {
      if (signal.aborted) return;
      log.warn({ error: ConnectError.from(error).rawMessage }, "heartbeat failed");
    }
    await abortableSleep(intervalMs, signal);
  }
}
