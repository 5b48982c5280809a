// Prometheus metrics, read the way an operator reads them: a real Prometheus (Debian's) scrapes
// switchyard serve's /metrics and the agent's own, and the assertions query its HTTP API after a
// real deploy (the agent runs examples/hello) and a promote.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { LiveChangeOutcome } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startAgent, startPrometheus, type Agent, type Prometheus } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";

describe("metrics: Prometheus scrapes switchyard and the agent", () => {
  let app: App;
  let agent: Agent;
  let prometheus: Prometheus;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
    prometheus = await startPrometheus({ targets: { switchyard: app.env.SWITCHYARD_METRICS_LISTEN!, agent: agent.metricsAddress } });
  });
  after(async () => {
    await prometheus?.stop();
    await agent?.stop();
    await app?.stop();
  });

  it("both targets are up", async () => {
    const up = await prometheus.waitFor("up == 1", 15_000, (samples) => samples.length === 2);
    assert.deepEqual(up.map((s) => s.metric.job).sort(), ["agent", "switchyard"]);
  });

  it("after a deploy and a promote: phase durations, time to ready, promote latency, RPCs, watch streams, agent reports — with bounded labels", async () => {
    const fixture = await createProject(app);
    const v1 = await deployHello(app, fixture);
    assert.equal((await waitForStatus(app, "acme", v1.id, 30_000)).status, DeploymentStatus.READY);
    const v2 = await deployHello(app, fixture, { env: { APP_VERSION: "2.0.0" } });
    assert.equal((await waitForStatus(app, "acme", v2.id, 30_000)).status, DeploymentStatus.READY);
    const promoted = await app.client(DeployService).promote({ deploymentId: v1.id });
    assert.equal(promoted.state?.outcome, LiveChangeOutcome.PROMOTED);

    const phases = await prometheus.waitFor('switchyard_deploy_phase_duration_seconds_count{job="switchyard"}', 15_000, (samples) =>
      ["deploying", "network", "finalizing"].every((phase) => samples.some((s) => s.metric.phase === phase && s.metric.outcome === "succeeded" && s.value >= 2)),
    );
    for (const sample of phases) {
      assert.deepEqual(Object.keys(sample.metric).sort(), ["__name__", "instance", "job", "outcome", "phase"], "no ids among the labels");
    }
    const [deploying] = await prometheus.query('sum(switchyard_deploy_phase_duration_seconds_sum{phase="deploying",outcome="succeeded"})');
    assert.ok(deploying!.value > 0, "deploying (the wait for the agent) took time");

    const ready = await prometheus.waitFor('switchyard_deploy_time_to_ready_seconds_count{environment="production"}', 15_000, (s) => s[0]?.value === 2);
    assert.equal(ready.length, 1);
    await prometheus.waitFor('switchyard_deployments_finished_total{status="ready"}', 15_000, (s) => s[0]?.value === 2);

    const promotes = await prometheus.waitFor('switchyard_live_change_duration_seconds_count{operation="promote"}', 15_000, (s) => s.some((x) => x.value >= 1));
    assert.deepEqual(promotes.map((s) => s.metric.outcome), ["promoted"]);
    const [p50] = await prometheus.query('histogram_quantile(0.5, sum by (le) (switchyard_live_change_duration_seconds_bucket{operation="promote"}))');
    assert.ok(p50 && p50.value > 0 && p50.value < 30, `promote p50 ${p50?.value} s`);

    const rpcs = await prometheus.waitFor('switchyard_rpc_requests_total{service="ctrl.v1.DeployService",method="Promote"}', 15_000, (s) => s.some((x) => x.metric.code === "ok"));
    assert.deepEqual(Object.keys(rpcs[0]!.metric).sort(), ["__name__", "code", "instance", "job", "method", "service"]);
    await prometheus.waitFor('switchyard_rpc_duration_seconds_count{method="CreateDeployment",code="ok"}', 15_000, (s) => s[0]?.value === 2);

    // The agent's watch stream, seen from both ends.
    await prometheus.waitFor('switchyard_watch_streams{stream="deployments"}', 15_000, (s) => s[0]?.value === 1);
    await prometheus.waitFor('switchyard_watch_starts_total{stream="deployments",mode="bootstrap"}', 15_000, (s) => s[0]?.value === 1);
    await prometheus.waitFor('switchyard_watch_propagation_lag_seconds_count{stream="deployments"}', 15_000, (s) => (s[0]?.value ?? 0) >= 2);
    await prometheus.waitFor('switchyard_agent_reports_total{job="switchyard",outcome="applied"}', 15_000, (s) => (s[0]?.value ?? 0) >= 2);
    await prometheus.waitFor('switchyard_agent_reports_total{job="agent",outcome="delivered"}', 15_000, (s) => (s[0]?.value ?? 0) >= 2);
    await prometheus.waitFor('switchyard_agent_watch_connects_total{job="agent",mode="bootstrap"}', 15_000, (s) => s[0]?.value === 1);
    await prometheus.waitFor('switchyard_agent_health_checks_total{job="agent",outcome="healthy"}', 15_000, (s) => (s[0]?.value ?? 0) >= 2);
    await prometheus.waitFor('switchyard_agent_deployments{job="agent"}', 15_000, (s) => s[0]?.value === 2);
    await prometheus.waitFor('switchyard_certificates_expiring{job="switchyard"}', 15_000, (s) => s[0]?.value === 0);
    await prometheus.waitFor('switchyard_region_processes{job="switchyard",state="alive"}', 15_000, (s) => (s[0]?.value ?? 0) >= 1);
  });

  it("no series of switchyard's carries an id, a hostname or a tenant as a label", async () => {
    const series = await prometheus.query('{job="switchyard", __name__=~"switchyard_.*"}');
    assert.ok(series.length > 10);
    // region is bounded by the operator: only region credentials the operator issued write heartbeats.
    const allowed = new Set(["__name__", "instance", "job", "service", "method", "code", "phase", "outcome", "environment", "status", "operation", "stream", "mode", "le", "reason", "region", "state"]);
    for (const { metric } of series) {
      for (const label of Object.keys(metric)) assert.ok(allowed.has(label), `${metric.__name__} has label ${label}`);
      for (const value of Object.values(metric)) assert.doesNotMatch(value, /^(dep|prj|ws|env)_/, `${metric.__name__}: an id as a label value`);
    }
  });
});
