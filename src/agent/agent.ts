// `switchyard agent`: makes the control plane's desired state for one region real.
//
//   start ──► claim the state dir ──► load state.json ──► Driver.list(): runs of an earlier agent
//         ──► reconciler adopts them ──► converge every known deployment
//         ──► watch loop (WatchDeployments, resume protocol) ──► reconciler.kick(changed)
//         ──► heartbeat loop (the applied version)      resync loop (GetDesiredDeploymentState
//                                                       for every deployment, then sweep)
//   stop  ──► stop watching ──► stop instances (unless keepInstances) ──► save state, release
//
// The agent is a plain Connect client of ClusterService (gRPC over h2c, HTTP/2 pings so a dead
// server is noticed); it needs neither the database nor Restate.

import { randomUUID } from "node:crypto";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { clusterClient } from "../cluster/client/clusterClient.js";
import type { Logger } from "pino";
import { abortableSleep } from "../api/abortableSleep.js";
import { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import { VERSION } from "../version.js";
import type { AgentConfig } from "./config.js";
import type { DesiredState } from "./desiredState.js";
import type { Driver } from "./driver.js";
import { Podman } from "../containers/podman.js";
import { ContainerDriver } from "./containerDriver.js";
import { ProcessDriver } from "./processDriver.js";
import { Reconciler } from "./reconciler.js";
import { Reporter } from "./reporter.js";
import { StateStore } from "./stateStore.js";
import { runWatchLoop, toDesired } from "./watchLoop.js";
import { agentRegistry, registerAgentGauges } from "./metrics.js";
import { startMetricsServer } from "../telemetry/metricsServer.js";

const CALL_TIMEOUT_MS = 10_000;
const MAINTAIN_INTERVAL_MS = 10_000;
const SHUTDOWN_CONVERGE_WAIT_MS = 5_000;

export interface RunningAgent {
  /** Stops watching and (unless keepInstances) the instances; resolves when all is saved. */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const store = new StateStore(config.stateDir);
  await store.lock.acquire();
  const desired = await store.load();
  const client = clusterClient(config);
  const driver = makeDriver(config, log);
  const reporter = new Reporter(client, config.region, log);
  const save = () => {
    store.save(desired).catch((error: Error) => log.error({ error: error.message }, "could not save state.json; the resume point stays where it was"));
  };
  const reconciler = new Reconciler({
    region: config.region,
    driver,
    desired,
    reporter,
    log,
    healthIntervalMs: config.healthIntervalMs,
    healthTimeoutMs: config.healthTimeoutMs,
    startupTimeoutMs: config.startupTimeoutMs,
    onApplied: save,
  });

  registerAgentGauges({ appliedVersion: () => desired.cursor, deployments: () => desired.deploymentIds().length });
  const metrics = config.metricsListen ? await startMetricsServer(agentRegistry, config.metricsListen) : undefined;
  if (metrics) log.info({ url: metrics.url }, "metrics listening");

  const found = await driver.list();
  log.info(
    { agentId: config.agentId, driver: driver.name, resumeFrom: String(desired.cursor), deployments: desired.deploymentIds().length, runsFound: found.length },
    "agent starting",
  );
  reconciler.adopt(found);
  reconciler.kickAll();
  // state.json with a resume point is what was applied before: safe to act on at once. Without
  // one, nothing is stopped until the bootstrap snapshot says what the region should run.
  if (desired.cursor > 0n) void reconciler.sweep();

  const stopping = new AbortController();
  const loops = [
    runWatchLoop({
      client,
      region: config.region,
      agentId: config.agentId,
      desired,
      log,
      signal: stopping.signal,
      onChange: (ids) => {
        for (const id of ids) reconciler.kick(id);
        save();
      },
      onBootstrap: () => void reconciler.sweep(),
    }),
    heartbeatLoop(client, config, desired, log, stopping.signal),
    resyncLoop(client, config, desired, reconciler, log, stopping.signal),
    maintainLoop(driver, log, stopping.signal),
  ];

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        log.info({ keepInstances: config.keepInstances }, "agent stopping");
        stopping.abort();
        await Promise.allSettled(loops);
        await reconciler.close({ keepInstances: config.keepInstances, timeoutMs: SHUTDOWN_CONVERGE_WAIT_MS });
        await reporter.flush(2_000);
        reporter.close();
        await store.save(desired).catch((error: Error) => log.error({ error: error.message }, "could not save state.json"));
        await store.lock.release();
        await metrics?.close();
        log.info("agent stopped");
      })();
      return stopped;
    },
  };
}

function makeDriver(config: AgentConfig, log: Logger): Driver {
  if (config.driver === "process") return new ProcessDriver({ stateDir: config.stateDir, stopGraceMs: config.stopGraceMs, logMaxBytes: config.logMaxBytes, log });
  const podman = new Podman({ storageDir: config.podmanStorage, insecureRegistries: config.insecureRegistries });
  log.info({ podman: podman.binary, flags: [...podman.flags.global, ...podman.limitFlags()], detected: podman.flags.detail }, "container driver: podman flags detected");
  return new ContainerDriver({
    stateDir: config.stateDir,
    agentId: config.agentId,
    region: config.region,
    podman,
    network: config.containerNetwork,
    stopGraceMs: config.stopGraceMs,
    logMaxBytes: config.logMaxBytes,
    pullTimeoutMs: config.pullTimeoutMs,
    log,
  });
}

/** Heartbeat with the applied version, at the interval the server asks for (1–60 s). */
async function heartbeatLoop(client: Client<typeof ClusterService>, config: AgentConfig, desired: DesiredState, log: Logger, signal: AbortSignal) {
  let intervalMs = 10_000;
  while (!signal.aborted) {
    try {
      const response = await client.heartbeat(
        { region: config.region, agentId: config.agentId, agentVersion: VERSION, deploymentsVersion: desired.cursor, idempotencyKey: randomUUID() },
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

/**
 * Level-triggered correction: every deployment's desired state fetched again (a change the feed
 * lost, or that this agent missed, is caught here), every deployment converged, strays swept.
 */
async function resyncLoop(client: Client<typeof ClusterService>, config: AgentConfig, desired: DesiredState, reconciler: Reconciler, log: Logger, signal: AbortSignal) {
  while (!signal.aborted) {
    await abortableSleep(config.resyncIntervalMs, signal);
    if (signal.aborted) return;
    let corrected = 0;
    for (const deploymentId of desired.deploymentIds()) {
      if (signal.aborted) return;
      if (!desired.get(deploymentId)?.desired) continue;
      try {
        const { state } = await client.getDesiredDeploymentState({ deploymentId, region: config.region }, { timeoutMs: CALL_TIMEOUT_MS, signal });
        if (state && desired.refresh(deploymentId, toDesired(state))) corrected++;
      } catch (error) {
        const connectError = ConnectError.from(error);
        if (connectError.code === Code.NotFound) {
          if (desired.refresh(deploymentId, null)) corrected++;
        } else {
          if (signal.aborted) return;
          log.warn({ deploymentId, error: connectError.rawMessage }, "resync: could not fetch the desired state; next time");
        }
      }
    }
    if (corrected > 0) log.warn({ corrected }, "resync corrected desired states the feed had not delivered");
    reconciler.kickAll();
    await reconciler.sweep();
  }
}

async function maintainLoop(driver: Driver, log: Logger, signal: AbortSignal) {
  while (!signal.aborted) {
    await abortableSleep(MAINTAIN_INTERVAL_MS, signal);
    await driver.maintain().catch((error: Error) => log.warn({ error: error.message }, "driver housekeeping failed"));
  }
}
