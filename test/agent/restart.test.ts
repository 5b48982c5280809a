// Restart safety and the resume protocol, with real processes killed at bad moments: the agent
// SIGKILLed right after spawning an instance (before it recorded the pid), switchyard SIGKILLed
// under a watching agent, a resume point the server refuses, and a change whose apply fails.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { appProcesses } from "../support/appProcesses.js";
import { createProject, waitForStatus } from "../support/fixtures.js";
import { askHello, deployHello, getDeployment, runningAddresses } from "../support/helloApp.js";
import { until } from "../support/until.js";

/** The agent's JSON log lines with this `msg`, in order. */
function logged(agent: Agent, msg: string): Record<string, unknown>[] {
  return fs
    .readFileSync(agent.process.logFile, "utf8")
    .split("\n")
    .flatMap((line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.msg === msg ? [entry] : [];
      } catch {
        return [];
      }
    });
}

const TERMINAL = [DeploymentStatus.READY, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED];

async function topologyVersion(app: App, deploymentId: string): Promise<bigint> {
  const row = await app.db.selectFrom("deployment_topology").select("version").where("deployment_id", "=", deploymentId).executeTakeFirstOrThrow();
  return BigInt(row.version);
}

describe("agent restarts and the resume protocol", () => {
  let app: App;
  const agents: Agent[] = [];
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
  });
  after(async () => {
    for (const agent of agents) await agent.stop();
    await app?.stop();
  });
  /** Runs `body` with an agent of its own, always stopped afterwards: one agent per region at a time. */
  const withAgent = async (env: Record<string, string>, body: (agent: Agent) => Promise<void>) => {
    const agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms", ...env } });
    agents.push(agent);
    try {
      await body(agent);
    } finally {
      await agent.stop();
    }
  };

  it("SIGKILL of the agent right after it spawned an instance: after the restart no instance runs twice, no change is missed, the feed resumes from the last applied version", async () => {
    // The fault is disarmed while its marker exists: a first deployment runs normally.
    const marker = path.join(fs.mkdtempSync(path.join(path.dirname(app.switchyard.process.logFile), "fault-")), "killed");
    fs.writeFileSync(marker, "disarmed\n");
    await withAgent({ SWITCHYARD_FAULT_KILL_AFTER_STEP: "process driver: spawned", SWITCHYARD_FAULT_MARKER: marker }, async (agent) => {
      const warmup = await deployHello(app, await createProject(app));
      assert.equal((await waitForStatus(app, "acme", warmup.id, 30_000)).status, DeploymentStatus.READY);
      await until("the warm-up deployment's change to be applied and saved", async () => agent.appliedVersion() >= (await topologyVersion(app, warmup.id)), 10_000);
      fs.rmSync(marker); // armed: the next spawn is the agent's last
      const fixture = await createProject(app);
      const first = await deployHello(app, fixture, { replicas: 2, env: { HELLO_START_DELAY: "500" } });
      await until("the agent to kill itself after its first spawn", async () => !agent.process.running, 20_000);
      const resumePoint = agent.appliedVersion();
      assert.ok(resumePoint < (await topologyVersion(app, first.id)), "the deployment's change was not applied when the agent died");
      const orphans = appProcesses(first.id);
      assert.equal(orphans.length, 1, "one instance was spawned before the kill");

      // A change made while the agent is down: it must not be missed.
      const other = await createProject(app);
      const second = await deployHello(app, other);

      await agent.restart();
      const ready = await until(
        "both deployments ready, never two runs of one instance meanwhile",
        async () => {
          const processes = appProcesses(first.id);
          assert.equal(new Set(processes.map((p) => p.instanceId)).size, processes.length, `two runs of one instance: ${JSON.stringify(processes)}`);
          assert.ok(processes.length <= 2);
          const both = await Promise.all([getDeployment(app, fixture, first.id), getDeployment(app, other, second.id)]);
          return both.every((d) => TERMINAL.includes(d.status)) ? both : undefined;
        },
        30_000,
        20,
      );
      assert.deepEqual(ready.map((d) => d.status), [DeploymentStatus.READY, DeploymentStatus.READY]);
      assert.equal(appProcesses(first.id).length, 2);
      assert.equal(appProcesses(second.id).length, 1);
      // The orphan's pid was never recorded: the restarted agent found it by its run id and kept it.
      assert.ok(appProcesses(first.id).some((p) => p.pid === orphans[0]!.pid), "the instance spawned before the kill was adopted");
      assert.ok(logged(agent, "adopted a run of an earlier agent process").some((e) => e.runId === orphans[0]!.runId));

      const resumed = logged(agent, "watching deployments: resume");
      assert.equal(resumed.at(-1)?.fromVersion, String(resumePoint), "resumed from the version applied before the kill");
      await until("the resume point to pass both deployments' changes", async () => agent.appliedVersion() >= (await topologyVersion(app, second.id)), 10_000);
    });
  });

  it("SIGKILL of switchyard: the agent reconnects and resumes; running instances are left alone", async () => {
    await withAgent({}, async (agent) => {
      const fixture = await createProject(app);
      const before = await deployHello(app, fixture);
      assert.equal((await waitForStatus(app, "acme", before.id, 30_000)).status, DeploymentStatus.READY);
      const pids = appProcesses(before.id).map((p) => p.pid);

      await app.switchyard.kill();
      await app.switchyard.restart();
      const afterKill = await deployHello(app, await createProject(app));
      assert.equal((await waitForStatus(app, "acme", afterKill.id, 30_000)).status, DeploymentStatus.READY, "a deploy after the restart runs");
      assert.ok(logged(agent, "watch stream broke; reconnecting").length >= 1);
      assert.equal(logged(agent, "watching deployments: bootstrap").length, 1, "resumed, not bootstrapped again");
      assert.deepEqual(appProcesses(before.id).map((p) => p.pid), pids, "the running instance was not touched");
    });
  });

  it("a resume point the server refuses (FailedPrecondition): the agent bootstraps from 0 and adopts its running instances", async () => {
    await withAgent({ SWITCHYARD_AGENT_KEEP_INSTANCES: "true" }, async (agent) => {
      const fixture = await createProject(app);
      const created = await deployHello(app, fixture);
      assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
      const [address] = await runningAddresses(app, fixture, created.id);
      const pid = (await askHello(address!)).pid;

      await agent.process.stop(); // SIGTERM with --keep-instances: the instance keeps running
      assert.equal(appProcesses(created.id)[0]?.pid, pid);
      const stateFile = path.join(agent.stateDir, "state.json");
      const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { appliedVersion: string };
      fs.writeFileSync(stateFile, JSON.stringify({ ...state, appliedVersion: "999999999" }));

      const bootstraps = logged(agent, "bootstrap complete").length;
      await agent.restart();
      await until("the agent to bootstrap after the refused resume point", () => logged(agent, "bootstrap complete").length > bootstraps, 20_000);
      assert.equal(logged(agent, "resume point refused; bootstrapping from 0").length, 1);
      await until("the resume point to be the feed's again", () => agent.appliedVersion() < 999999999n && agent.appliedVersion() > 0n, 10_000);
      assert.deepEqual(appProcesses(created.id).map((p) => p.pid), [pid], "the running instance was adopted, not restarted");
      assert.equal((await askHello(address!)).pid, pid);
    });
  });

  it("a change whose apply fails is retried, never skipped", async () => {
    await withAgent({}, async (agent) => {
      await agent.kill();
      const fixture = await createProject(app);
      const created = await deployHello(app, fixture);
      const version = await until("the deployment's desired state", async () => {
        const row = await app.db.selectFrom("deployment_topology").select("version").where("deployment_id", "=", created.id).executeTakeFirst();
        return row && BigInt(row.version) > 0n ? BigInt(row.version) : undefined;
      });
      // A file where the instance's directory must go: every start fails until it is removed.
      const blocker = path.join(agent.stateDir, "instances", `${created.id}-local-0`);
      fs.mkdirSync(path.dirname(blocker), { recursive: true });
      fs.writeFileSync(blocker, "in the way\n");

      await agent.restart();
      await until("the apply to fail twice", () => logged(agent, "apply failed; retrying").filter((e) => e.deploymentId === created.id).length >= 2, 20_000);
      assert.ok(agent.appliedVersion() < version, `the resume point (${agent.appliedVersion()}) stays below the failed change (${version})`);
      assert.equal(appProcesses(created.id).length, 0);

      fs.rmSync(blocker);
      assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
      await until("the resume point to pass the change once applied", () => agent.appliedVersion() >= version, 10_000);
    });
  });
});
