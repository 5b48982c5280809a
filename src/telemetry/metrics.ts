import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

// The metrics of `switchyard serve`, each defined once here so that the README's table and the
// code cannot drift apart. Labels are bounded sets (service, method, code, phase, outcome…):
// never an id, a hostname or a tenant, so the series count does not grow with the data.

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Seconds buckets from 5 ms to 10 min: RPCs, swaps and whole deploys on one scale. */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const rpcRequests = new Counter({
  name: "switchyard_rpc_requests_total",
  help: "Connect RPCs answered, by service, method and Connect code",
  labelNames: ["service", "method", "code"] as const,
  registers: [registry],
});

export const rpcDuration = new Histogram({
  name: "switchyard_rpc_duration_seconds",
  help: "Time from an RPC's arrival to its answer (for a server stream: to its end)",
  labelNames: ["service", "method", "code"] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const deployPhaseDuration = new Histogram({
  name: "switchyard_deploy_phase_duration_seconds",
  help: "Duration of one phase of a deployment (building, deploying, network, finalizing) by outcome",
  labelNames: ["phase", "outcome"] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const deployTimeToReady = new Histogram({
  name: "switchyard_deploy_time_to_ready_seconds",
  help: "From CreateDeployment to the deployment being ready, by environment kind (production, preview)",
  labelNames: ["environment"] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const deploymentsFinished = new Counter({
  name: "switchyard_deployments_finished_total",
  help: "Deployments that ended, by final status (ready, failed, cancelled)",
  labelNames: ["status"] as const,
  registers: [registry],
});

export const liveChangeDuration = new Histogram({
  name: "switchyard_live_change_duration_seconds",
  help: "Promote and Rollback as the caller sees them (precheck, wake, lock, atomic swap), by outcome",
  labelNames: ["operation", "outcome"] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const watchStreams = new Gauge({
  name: "switchyard_watch_streams",
  help: "Watch streams connected to this process, by stream (deployments, gateway_configs)",
  labelNames: ["stream"] as const,
  registers: [registry],
});

export const watchStarts = new Counter({
  name: "switchyard_watch_starts_total",
  help: "Watch streams opened, by stream and by how they started (bootstrap from 0, resume from a version)",
  labelNames: ["stream", "mode"] as const,
  registers: [registry],
});

export const watchPropagationLag = new Histogram({
  name: "switchyard_watch_propagation_lag_seconds",
  help: "From a change's commit (as this process's feed tailer saw it) to its message being handed to a watch stream",
  labelNames: ["stream"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const agentReports = new Counter({
  name: "switchyard_agent_reports_total",
  help: "ReportDeploymentStatus calls processed, by outcome (applied, stale, refused)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const agentReportDuration = new Histogram({
  name: "switchyard_agent_report_duration_seconds",
  help: "Time to process one ReportDeploymentStatus (instances replaced, the deployment's wait resolved)",
  labelNames: ["outcome"] as const,
  buckets: SECONDS,
  registers: [registry],
});

export const dnsChecks = new Counter({
  name: "switchyard_dns_checks_total",
  help: "Domain ownership checks applied, by the ownership they found (verified, not_verified, unknown — DNS did not answer —, removed)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const acmeOrders = new Counter({
  name: "switchyard_acme_orders_total",
  help: "ACME certificate order attempts that ended, by outcome (issued, failed)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const acmeChallenges = new Counter({
  name: "switchyard_acme_challenges_total",
  help: "ACME authorizations the CA decided, by challenge type (http-01, dns-01) and outcome (valid, invalid)",
  labelNames: ["type", "outcome"] as const,
  registers: [registry],
});

export const acmeRateLimitWaits = new Counter({
  name: "switchyard_acme_rate_limit_waits_total",
  help: "Durable waits before an ACME request, by reason (ca_retry_after: the CA's rate limit; order_budget: the account's own budget)",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: "switchyard_webhook_deliveries_total",
  help: "Webhook delivery attempts, by outcome (delivered, failed, refused)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

/** Seconds since `startedMs` (a Date.now() value). */
export function secondsSince(startedMs: number): number {
  return Math.max(0, (Date.now() - startedMs) / 1000);
}
