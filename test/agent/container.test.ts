// The container driver: `switchyard agent --driver container` runs the sample app's image with
// podman + runc, pulled by digest from a docker-registry on loopback (image built here from a
// local busybox-static + node base: no internet). Real MariaDB, restate-server, switchyard, agent,
// podman and registry; nothing reports by hand.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InstanceStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService, DeploymentStatus, type Deployment } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { storageFlags } from "../../src/containers/podman.js";
import { runningContainers, startAgent, startContainerEnv, type Agent, type ContainerEnv } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { askHello, getDeployment, runningAddresses } from "../support/helloApp.js";
import { until } from "../support/until.js";

async function deployImage(app: App, fixture: ProjectFixture, image: string, env: Record<string, string> = {}): Promise<Deployment> {
  const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
    workspaceId: fixture.workspaceId,
    projectId: fixture.projectId,
    environment: "production",
    source: { case: "image", value: { image, command: [], port: 8080, env } },
  });
  return deployment!;
}

function podman(storage: string, ...args: string[]): string {
  return execFileSync("podman", [...storageFlags(storage), ...args], { encoding: "utf8", timeout: 30_000 });
}

describe("the container driver", () => {
  let containers: ContainerEnv;
  let app: App;
  let agent: Agent;
  let image: string;
  before(async () => {
    containers = await startContainerEnv();
    image = await containers.pushImage("acme/hello", "1.0.0");
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_REGISTRY: containers.registry.host, SWITCHYARD_REGISTRY_INSECURE: "true" } });
    agent = await startAgent({
      url: app.switchyard.url,
      token: app.tokens.agents.local!,
      containers: { insecureRegistries: [containers.registry.host] },
      env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" },
    });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
    await containers?.stop();
  });

  it("a pre-built image in the registry (by tag) → pinned to its digest, pulled and run → ready and live; the app answers on the reported address from its container", async () => {
    const fixture = await createProject(app);
    const byTag = `${containers.registry.host}/acme/hello:1.0.0`;
    const created = await deployImage(app, fixture, byTag, { APP_VERSION: "3.1.4" });
    const ready = await waitForStatus(app, "acme", created.id, 60_000);
    assert.equal(ready.status, DeploymentStatus.READY, ready.errorMessage);
    assert.equal(ready.isLive, true);
    assert.equal(ready.image, image, "the deployment records the digest, not the tag");
    const [instance] = ready.instances;
    assert.equal(instance?.status, InstanceStatus.RUNNING);
    assert.match(instance!.address, /^127\.0\.0\.1:\d+$/);
    const answer = await askHello(instance!.address);
    assert.equal(answer.version, "3.1.4");
    assert.equal(answer.instance, instance!.instanceId);
    assert.equal(answer.pid, 1, "PID 1 of its own PID namespace: a container, not a local process");
    const running = runningContainers(agent.podmanStorage!).filter((c) => c.labels["switchyard.deployment"] === created.id);
    assert.equal(running.length, 1);
    assert.equal(running[0]!.labels["switchyard.region"], "local");
    assert.equal(running[0]!.labels["switchyard.instance"], instance!.instanceId);
    assert.ok(podman(agent.podmanStorage!, "images", "--digests", "--format", "{{.Digest}}").includes(image.split("@")[1]!), "the agent pulled the image into its own storage");
  });

  it("SIGKILL of the agent with containers running → the restarted agent adopts them by label: the same containers, no duplicates", async () => {
    const fixture = await createProject(app);
    const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
      workspaceId: fixture.workspaceId,
      projectId: fixture.projectId,
      environment: "production",
      source: { case: "image", value: { image, command: [], port: 8080, env: {} } },
      runtime: { replicas: 2, healthCheckPath: "" },
    });
    assert.equal((await waitForStatus(app, "acme", deployment!.id, 60_000)).status, DeploymentStatus.READY);
    const ofDeployment = () => runningContainers(agent.podmanStorage!).filter((c) => c.labels["switchyard.deployment"] === deployment!.id);
    const before = ofDeployment().map((c) => c.name).sort();
    assert.equal(before.length, 2);

    await agent.kill();
    assert.deepEqual(ofDeployment().map((c) => c.name).sort(), before, "containers outlive the agent");
    await agent.restart();
    await until("the restarted agent to adopt both containers", () => agent.logs(400).split("\n").filter((l) => l.includes("adopted a run of an earlier agent process")).length >= 2, 20_000);
    // A later deploy is applied too: the agent works; meanwhile nothing was started twice.
    const other = await deployImage(app, await createProject(app), image);
    assert.equal((await waitForStatus(app, "acme", other.id, 60_000)).status, DeploymentStatus.READY);
    assert.deepEqual(ofDeployment().map((c) => c.name).sort(), before, "the same two containers, none started again");
    const addresses = await runningAddresses(app, fixture, deployment!.id, 2);
    for (const address of addresses) assert.equal((await askHello(address)).pid, 1);
  });

  it("a container killed from outside → reported not running, restarted (a new container on the same address) and reported running", async () => {
    const fixture = await createProject(app);
    const created = await deployImage(app, fixture, image);
    assert.equal((await waitForStatus(app, "acme", created.id, 60_000)).status, DeploymentStatus.READY);
    const [address] = await runningAddresses(app, fixture, created.id);
    const [first] = runningContainers(agent.podmanStorage!).filter((c) => c.labels["switchyard.deployment"] === created.id);
    podman(agent.podmanStorage!, "kill", first!.name);
    await until(
      "the killed container to be reported",
      async () => (await getDeployment(app, fixture, created.id)).instances.some((i) => i.status === InstanceStatus.PENDING),
      20_000,
      10,
    );
    const restarted = await until(
      "a new container to answer on the same address",
      async () => {
        const [instance] = (await getDeployment(app, fixture, created.id)).instances;
        if (instance?.status !== InstanceStatus.RUNNING) return undefined;
        const now = runningContainers(agent.podmanStorage!).filter((c) => c.labels["switchyard.deployment"] === created.id);
        return now.length === 1 && now[0]!.name !== first!.name ? { instance, now } : undefined;
      },
      30_000,
      50,
    );
    assert.equal(restarted.instance.address, address, "the restart keeps the instance's address");
    assert.equal((await askHello(address!)).instance, restarted.instance.instanceId);
  });

  it("an app whose health check never passes → FAILED with its container's last log lines, env values redacted; its container stopped", async () => {
    const fixture = await createProject(app);
    const secret = "c0nta1ner-secret-never-shown";
    const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
      workspaceId: fixture.workspaceId,
      projectId: fixture.projectId,
      environment: "production",
      source: { case: "image", value: { image, command: [], port: 8080, env: { HELLO_FAIL_HEALTH: "1", HELLO_SAY: `using ${secret}`, TOKEN: secret } } },
      runtime: { replicas: 1, healthCheckPath: "", startupTimeout: { seconds: 2n, nanos: 0 } },
    });
    const failed = await waitForStatus(app, "acme", deployment!.id, 60_000);
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /not healthy within 2 s/);
    assert.match(failed.errorMessage, /failing every request with 503/, "the container's log tail");
    assert.doesNotMatch(failed.errorMessage, new RegExp(secret));
    await until("its container to be stopped", () => runningContainers(agent.podmanStorage!).every((c) => c.labels["switchyard.deployment"] !== deployment!.id), 20_000);
  });

  it("a pre-built image that does not exist in the registry → FAILED with a clear message before anything starts: no topology, no container", async () => {
    const fixture = await createProject(app);
    const missing = `${containers.registry.host}/acme/hello:does-not-exist`;
    const created = await deployImage(app, fixture, missing);
    const failed = await waitForStatus(app, "acme", created.id, 30_000);
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /image .*acme\/hello:does-not-exist does not exist in the registry/);
    const topology = await app.db.selectFrom("deployment_topology").select("deployment_id").where("deployment_id", "=", created.id).execute();
    assert.deepEqual(topology, [], "no region was asked to run it");
    assert.equal(runningContainers(agent.podmanStorage!).filter((c) => c.labels["switchyard.deployment"] === created.id).length, 0);
  });
});
