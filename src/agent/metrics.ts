import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

// The agent's own metrics (its /metrics endpoint, --metrics-listen), apart from switchyard
// serve's: an agent runs on another machine and is scraped there. Labels are bounded sets.

export const agentRegistry = new Registry();
collectDefaultMetrics({ register: agentRegistry });

export const reportsSent = new Counter({
  name: "switchyard_agent_reports_total",
  help: "ReportDeploymentStatus calls made, by outcome (delivered, refused, failed — failed ones are retried)",
  labelNames: ["outcome"] as const,
  registers: [agentRegistry],
});

export const healthChecks = new Counter({
  name: "switchyard_agent_health_checks_total",
  help: "Health checks of instances, by outcome (healthy, unhealthy)",
  labelNames: ["outcome"] as const,
  registers: [agentRegistry],
});

export const instanceRestarts = new Counter({
  name: "switchyard_agent_instance_restarts_total",
  help: "Instances restarted (exited, failed their checks, or not healthy within the startup timeout)",
  registers: [agentRegistry],
});

export const watchConnects = new Counter({
  name: "switchyard_agent_watch_connects_total",
  help: "WatchDeployments streams opened, by mode (bootstrap from 0, resume from the applied version)",
  labelNames: ["mode"] as const,
  registers: [agentRegistry],
});

export const watchBreaks = new Counter({
  name: "switchyard_agent_watch_breaks_total",
  help: "WatchDeployments streams that broke and were reopened, by Connect code",
  labelNames: ["code"] as const,
  registers: [agentRegistry],
});

export const changesApplied = new Counter({
  name: "switchyard_agent_changes_applied_total",
  help: "Desired-state changes received from the watch stream and applied",
  registers: [agentRegistry],
});

/** Gauges read from the agent's state when scraped. */
export function registerAgentGauges(state: { appliedVersion(): bigint; deployments(): number }): void {
  new Gauge({
    name: "switchyard_agent_applied_version",
    help: "The feed version this agent has applied (its resume point)",
    registers: [agentRegistry],
    collect() {
      this.set(Number(state.appliedVersion()));
    },
  });
  new Gauge({
    name: "switchyard_agent_deployments",
    help: "Deployments this agent knows the desired state of",
    registers: [agentRegistry],
    collect() {
      this.set(state.deployments());
    },
  });
}
