import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

// The metrics a `switchyard gateway` process exposes on its own /metrics (serve it with
// startMetricsServer(gatewayRegistry, listen) from src/telemetry/metricsServer.ts, the listen
// address from parseMetricsListen(SWITCHYARD_GATEWAY_METRICS_LISTEN)). Defined here so that
// the gateway's adapters only call observe/inc; labels are bounded (adapter, outcome, stream).

export const gatewayRegistry = new Registry();
collectDefaultMetrics({ register: gatewayRegistry });

export const gatewayApplyDuration = new Histogram({
  name: "switchyard_gateway_apply_duration_seconds",
  help: "Time to apply a batch of gateway-config changes to the data plane, by adapter (caddy, …) and outcome (applied, failed)",
  labelNames: ["adapter", "outcome"] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [gatewayRegistry],
});

export const gatewayApplyFailures = new Counter({
  name: "switchyard_gateway_apply_failures_total",
  help: "Applies the data plane refused or that failed, by adapter",
  labelNames: ["adapter"] as const,
  registers: [gatewayRegistry],
});

export const gatewayRoutes = new Gauge({
  name: "switchyard_gateway_routes",
  help: "Hostnames the gateway currently routes",
  registers: [gatewayRegistry],
});

export const gatewayWatchConnects = new Counter({
  name: "switchyard_gateway_watch_connects_total",
  help: "WatchGatewayConfigs streams opened, by mode (bootstrap, resume)",
  labelNames: ["mode"] as const,
  registers: [gatewayRegistry],
});
