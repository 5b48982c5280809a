// The agent's pure logic: the resume point of the desired state, region reports, backoff, and
// the validation of its settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "../../src/cluster/client/backoff.js";
import { agentConfig } from "../../src/agent/config.js";
import { DesiredState, type DesiredDeployment } from "../../src/agent/desiredState.js";
import { instanceIdFor } from "../../src/agent/instanceId.js";
import { redactedTail, regionReport, type SlotObservation } from "../../src/agent/regionReport.js";
import { ConfigError } from "../../src/config.js";

function deployment(id: string, status: DesiredDeployment["status"] = "running", replicas = 1): DesiredDeployment {
  return { deploymentId: id, workspaceId: "ws", projectId: "prj", environmentId: "env", region: "local", status, replicas, image: "app:1", command: ["node", "app.js"], env: {}, port: 0, healthCheckPath: "/" };
}

describe("desired state and its resume point", () => {
  it("advances to the newest change once every change is applied", () => {
    const state = new DesiredState();
    state.receive("a", deployment("a"), 5n);
    state.receive("b", deployment("b"), 7n);
    assert.equal(state.cursor, 4n, "nothing applied: resume just below the oldest change");
    state.markApplied("b", 7n);
    assert.equal(state.cursor, 4n, "a later change applied first does not move it past a failed one");
    state.markApplied("a", 5n);
    assert.equal(state.cursor, 7n);
  });

  it("keeps a failed apply's change re-deliverable while later changes apply", () => {
    const state = new DesiredState();
    state.receive("a", deployment("a"), 3n);
    state.markApplied("a", 3n);
    state.receive("a", deployment("a", "standby"), 9n); // its apply fails
    state.receive("b", deployment("b"), 10n);
    state.markApplied("b", 10n);
    assert.equal(state.cursor, 8n);
    assert.equal(state.get("a")?.desired?.status, "standby", "the newest state is kept for the retry");
  });

  it("a bootstrap snapshot replaces the state; deployments missing from it are removed once stopped", () => {
    const state = new DesiredState();
    state.receive("gone", deployment("gone"), 2n);
    state.markApplied("gone", 2n);
    state.receiveSnapshot([{ desired: deployment("kept"), version: 4n }], 20n);
    assert.equal(state.get("gone")?.desired, null);
    assert.equal(state.cursor, 3n);
    state.markApplied("kept", 4n);
    state.markApplied("gone", 20n);
    assert.equal(state.get("gone"), undefined, "forgotten once its instances are stopped");
    assert.equal(state.cursor, 20n);
  });

  it("survives its file: the resume point written is the one read back", () => {
    const state = new DesiredState();
    state.receive("a", deployment("a"), 11n);
    state.markApplied("a", 11n);
    state.receive("b", deployment("b"), 12n);
    const file = JSON.parse(JSON.stringify(state.toFile()));
    assert.equal(file.appliedVersion, "11");
    const restored = DesiredState.fromFile(file);
    assert.equal(restored.cursor, 11n);
    assert.deepEqual(restored.deploymentIds().sort(), ["a", "b"]);
  });

  it("a resync correction changes the desired state, never the resume point", () => {
    const state = new DesiredState();
    state.receive("a", deployment("a"), 6n);
    state.markApplied("a", 6n);
    assert.equal(state.refresh("a", deployment("a", "stopped")), true);
    assert.equal(state.refresh("a", deployment("a", "stopped")), false, "no change the second time");
    assert.equal(state.cursor, 6n);
  });
});

describe("region reports", () => {
  const slot = (over: Partial<SlotObservation>): SlotObservation => ({ instanceId: "i-0", running: true, healthy: false, ...over });
  const opts = { now: 100_000, startupTimeoutMs: 10_000, version: 3n };

  it("RUNNING once every slot is healthy, PENDING before", () => {
    assert.equal(regionReport(deployment("d", "running", 2), [slot({ healthy: true }), slot({ instanceId: "i-1", unhealthySince: 95_000 })], opts).status, "pending");
    const report = regionReport(deployment("d", "running", 2), [slot({ healthy: true, address: "127.0.0.1:1" }), slot({ instanceId: "i-1", healthy: true })], opts);
    assert.equal(report.status, "running");
    assert.deepEqual(report.instances.map((i) => i.status), ["running", "running"]);
    assert.equal(report.instances[0]!.address, "127.0.0.1:1");
  });

  it("FAILED with the log tail once a slot is unhealthy for longer than the startup timeout", () => {
    const report = regionReport(deployment("d"), [slot({ unhealthySince: 80_000, detail: "HTTP 503" })], { ...opts, logTail: "boom" });
    assert.equal(report.status, "failed");
    assert.equal(report.instances[0]!.status, "failed");
    assert.match(report.message, /not healthy within 10 s \(HTTP 503\); last log lines:\nboom/);
  });

  it("a crashed instance waiting for its restart is PENDING, not FAILED", () => {
    const report = regionReport(deployment("d"), [slot({ running: false, unhealthySince: 99_000, detail: "exited with code 1; restart 1" })], opts);
    assert.equal(report.status, "pending");
    assert.equal(report.instances[0]!.status, "pending");
    assert.match(report.instances[0]!.message, /exited with code 1/);
  });

  it("standby: RUNNING with every instance STOPPED once nothing runs", () => {
    assert.equal(regionReport(deployment("d", "standby"), [slot({ running: true })], opts).status, "pending");
    const report = regionReport(deployment("d", "standby"), [slot({ running: false })], opts);
    assert.equal(report.status, "running");
    assert.deepEqual(report.instances.map((i) => i.status), ["stopped"]);
  });

  it("log tails lose every env value and control character; the message keeps the newest lines within its bound", () => {
    assert.equal(redactedTail("key=hunter22 \u001b[31mred\u001b[0m\u0007 ok\n", { KEY: "hunter22", ON: "1" }), "key=[redacted] red ok\n");
    const long = `${"old line\n".repeat(500)}the last line`;
    const report = regionReport(deployment("d"), [slot({ unhealthySince: 0, detail: "HTTP 503" })], { ...opts, logTail: long });
    assert.ok(report.message.length <= 1000, `${report.message.length} characters`);
    assert.ok(report.message.endsWith("the last line"));
    assert.match(report.message, /^instance i-0 not healthy within 10 s \(HTTP 503\); last log lines:\n…/);
  });
});

describe("backoff", () => {
  it("doubles up to its bound, with jitter below each step, and resets", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [100, 200, 400, 800, 1000]);
    const jittered = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => 0.999);
    assert.ok(jittered.next() >= 50);
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });
});

describe("agent settings", () => {
  const env = { SWITCHYARD_AGENT_TOKEN: "0123456789abcdef0123" };
  const problems = (options: Record<string, string>, extraEnv: Record<string, string> = env) => {
    try {
      agentConfig(options, extraEnv);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
  };

  it("needs a region, a state directory and a token; defaults the rest", () => {
    const config = agentConfig({ region: "local", stateDir: "/tmp/agent-state" }, env);
    assert.equal(config.driver, "process");
    assert.equal(config.url, "http://127.0.0.1:7080");
    assert.equal(config.resyncIntervalMs, 5 * 60_000);
    assert.equal(config.logMaxBytes, 1024 * 1024);
    assert.equal(config.keepInstances, false);
    assert.deepEqual(problems({}, {}).map((p) => p.split(":")[0]), ["--region / SWITCHYARD_AGENT_REGION", "SWITCHYARD_AGENT_TOKEN", "--state-dir / SWITCHYARD_AGENT_STATE_DIR"]);
  });

  it("reports every bad value at once, each naming its flag and variable", () => {
    const found = problems({ region: "Mars!", stateDir: "s", driver: "kubernetes", url: "ftp://x", healthInterval: "soon", logMaxSize: "12", logLevel: "loud" }, { ...env, SWITCHYARD_AGENT_KEEP_INSTANCES: "maybe" });
    for (const name of ["--region", "--driver", "--url", "--health-interval", "--log-max-size", "--log-level", "--keep-instances"]) {
      assert.ok(found.some((p) => p.startsWith(`${name} / `)), `${name} in ${found.join(" | ")}`);
    }
  });

  it("takes SWITCHYARD_AGENT_KEEP_INSTANCES as a boolean", () => {
    assert.equal(agentConfig({ region: "local", stateDir: "s" }, { ...env, SWITCHYARD_AGENT_KEEP_INSTANCES: "true" }).keepInstances, true);
    assert.equal(agentConfig({ region: "local", stateDir: "s" }, { ...env, SWITCHYARD_AGENT_KEEP_INSTANCES: "false" }).keepInstances, false);
  });

  it("names instances <deployment>-<region>-<slot> within 64 characters", () => {
    assert.equal(instanceIdFor("dep_01m8stfk78abpv5z6d6c8t770e", "local", 1), "dep_01m8stfk78abpv5z6d6c8t770e-local-1");
    assert.ok(instanceIdFor("dep_01m8stfk78abpv5z6d6c8t770e", "a-very-long-region-name-indeed-1", 19).length <= 64);
  });
});
