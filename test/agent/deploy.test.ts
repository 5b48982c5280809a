// The agent makes deployments real: MariaDB, restate-server, switchyard serve, `switchyard agent
// --driver process` and the sample app (examples/hello), all real processes. Nothing reports
// instances by hand.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InstanceStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { appProcesses } from "../support/appProcesses.js";
import { createProject, waitForStatus } from "../support/fixtures.js";
import { askHello, deployHello, getDeployment, runningAddresses } from "../support/helloApp.js";
import { until } from "../support/until.js";

describe("the agent runs deployments", () => {
  let app: App;
  let agent: Agent;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
  });

  it("deploy → the agent starts the app, its health check passes, the deployment is ready and live, the app answers on the reported address", async () => {
    const fixture = await createProject(app);
    const created = await deployHello(app, fixture, { env: { APP_VERSION: "2.0.0" } });
    const ready = await waitForStatus(app, "acme", created.id, 30_000);
    assert.equal(ready.status, DeploymentStatus.READY, ready.errorMessage);
    assert.equal(ready.isLive, true);
    assert.equal(ready.instances.length, 1);
    const [instance] = ready.instances;
    assert.equal(instance!.status, InstanceStatus.RUNNING);
    assert.match(instance!.address, /^127\.0\.0\.1:\d+$/);
    const answer = await askHello(instance!.address);
    assert.equal(answer.version, "2.0.0");
    assert.equal(answer.instance, instance!.instanceId);
    const processes = appProcesses(created.id);
    assert.deepEqual(processes.map((p) => p.pid), [answer.pid], "one process, the one that answered");
    assert.equal(`127.0.0.1:${processes[0]!.port}`, instance!.address, "PORT is the reported address");
  });

  it("an instance is PENDING until its health check passes (a slow start), then RUNNING", async () => {
    const fixture = await createProject(app);
    const created = await deployHello(app, fixture, { env: { HELLO_START_DELAY: "1500" } });
    const pending = await until(
      "the starting instance to be reported",
      async () => (await getDeployment(app, fixture, created.id)).instances.find((i) => i.status === InstanceStatus.PENDING && i.address),
      20_000,
      10,
    );
    await assert.rejects(askHello(pending.address), "not answering yet while PENDING");
    assert.equal((await getDeployment(app, fixture, created.id)).status, DeploymentStatus.DEPLOYING);
    assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
    const [running] = (await getDeployment(app, fixture, created.id)).instances;
    assert.equal(running?.status, InstanceStatus.RUNNING);
    assert.equal(running?.address, pending.address);
    assert.equal((await askHello(running!.address)).instance, running!.instanceId);
  });

  it("replicas: 2 gives two processes on two addresses", async () => {
    const fixture = await createProject(app);
    const created = await deployHello(app, fixture, { replicas: 2 });
    assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
    const addresses = await runningAddresses(app, fixture, created.id, 2);
    assert.equal(new Set(addresses).size, 2);
    const answers = await Promise.all(addresses.map(askHello));
    assert.equal(new Set(answers.map((a) => a.pid)).size, 2);
    assert.deepEqual(appProcesses(created.id).map((p) => p.pid).sort(), answers.map((a) => a.pid).sort());
  });

  it("an app whose health check never passes → FAILED with the last lines of its log (env values redacted), and its process stopped", async () => {
    const fixture = await createProject(app);
    const secret = "s3cr3t-value-never-shown";
    const created = await deployHello(app, fixture, { env: { HELLO_FAIL_HEALTH: "1", HELLO_SAY: `connecting with ${secret}`, API_KEY: secret }, startupTimeoutMs: 2000 });
    const failed = await waitForStatus(app, "acme", created.id, 30_000);
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /not healthy within 2 s/);
    assert.match(failed.errorMessage, /HTTP 503/);
    assert.match(failed.errorMessage, /failing every request with 503/, "the log tail is in the message");
    assert.match(failed.errorMessage, /\n\[redacted\]\n/, "the line the app printed from its env is redacted");
    assert.doesNotMatch(failed.errorMessage, new RegExp(secret));
    await until("the failed deployment's process to be stopped", () => appProcesses(created.id).length === 0, 15_000);
  });

  it("an app that crashes is restarted and reported again: pending while it is down, running once it answers again", async () => {
    const fixture = await createProject(app);
    const created = await deployHello(app, fixture, { env: { HELLO_CRASH_AFTER: "1500" } });
    assert.equal((await waitForStatus(app, "acme", created.id, 30_000)).status, DeploymentStatus.READY);
    const [address] = await runningAddresses(app, fixture, created.id);
    const first = await askHello(address!);
    await until(
      "the crashed instance to be reported not running",
      async () => (await getDeployment(app, fixture, created.id)).instances.some((i) => i.status === InstanceStatus.PENDING),
      15_000,
      10,
    );
    const second = await until(
      "a new process to answer on the same address",
      async () => {
        const instance = (await getDeployment(app, fixture, created.id)).instances[0];
        if (instance?.status !== InstanceStatus.RUNNING) return undefined;
        const answer = await askHello(instance.address).catch(() => undefined);
        return answer && answer.pid !== first.pid ? { answer, address: instance.address } : undefined;
      },
      15_000,
      10,
    );
    assert.equal(second.address, address, "the restart keeps the instance's address");
    assert.equal(second.answer.instance, first.instance, "the same instance, a new run");
    assert.ok(appProcesses(created.id).length <= 1, "never two runs of one instance");
  });
});
