// Builds from git: a repository (a local path, allowed by SWITCHYARD_BUILD_LOCAL_SOURCES) holding
// the sample app and its Containerfile is fetched, built with podman, pushed to a docker-registry
// on loopback and run by `switchyard agent --driver container` from its digest. Real git, podman,
// runc, registry, MariaDB, restate-server, switchyard and agent.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InstanceStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService, DeploymentPhase, DeploymentStatus, DeploymentStepStatus, type Deployment } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { LOCAL_NODE_IMAGE } from "../../src/containers/baseImage.js";
import { makeTempDir, removeTempDir, repoRoot, runningContainers, startAgent, startContainerEnv, type Agent, type ContainerEnv } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../support/fixtures.js";
import { askHello, getDeployment } from "../support/helloApp.js";
import { until } from "../support/until.js";

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd, encoding: "utf8" }).trim();

/** A git repository with the sample app in app/ (Containerfile included); returns its path and a commit function. */
function makeRepository(root: string, name: string) {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, "app"), { recursive: true });
  for (const file of ["Containerfile", "package.json", "server.js"]) fs.copyFileSync(path.join(repoRoot, "examples", "hello", file), path.join(dir, "app", file));
  fs.cpSync(path.join(repoRoot, "examples", "hello", "openapi"), path.join(dir, "app", "openapi"), { recursive: true });
  git(dir, "init", "--quiet", "--initial-branch", "main");
  const commit = (message: string) => {
    git(dir, "add", "-A");
    git(dir, "commit", "--quiet", "-m", message);
    return git(dir, "rev-parse", "HEAD");
  };
  return { dir, commit };
}

/** The build stage's log as the builder writes it (the step's tail is recorded when the stage ends). */
let buildDir = "";
function readBuildLog(deploymentId: string): string {
  try {
    return fs.readFileSync(path.join(buildDir, deploymentId, "build.log"), "utf8");
  } catch {
    return "";
  }
}

function stagesOf(deployment: Deployment) {
  return deployment.steps.find((s) => s.phase === DeploymentPhase.BUILD)?.buildStages ?? [];
}

describe("builds from git", () => {
  let containers: ContainerEnv;
  let app: App;
  let agent: Agent;
  let sources: string;
  before(async () => {
    containers = await startContainerEnv();
    sources = await makeTempDir("sources");
    buildDir = path.join(sources, ".builds");
    app = await startApp({
      env: {
        SWITCHYARD_STANDBY_GRACE: "1h",
        SWITCHYARD_REGISTRY: containers.registry.host,
        SWITCHYARD_REGISTRY_INSECURE: "true",
        SWITCHYARD_BUILD_DIR: path.join(sources, ".builds"),
        SWITCHYARD_BUILD_PODMAN_STORAGE: containers.storageDir,
        SWITCHYARD_BUILD_ARGS: `NODE_IMAGE=${LOCAL_NODE_IMAGE}`,
        SWITCHYARD_BUILD_LOCAL_SOURCES: sources,
      },
    });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, containers: { insecureRegistries: [containers.registry.host] }, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
    await containers?.stop();
    if (sources) await removeTempDir(sources);
  });

  const deployGit = async (fixture: ProjectFixture, repository: string, sha: string, env: Record<string, string> = {}) => {
    const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
      workspaceId: fixture.workspaceId,
      projectId: fixture.projectId,
      environment: "production",
      source: { case: "git", value: { sha, branch: "main", repository, directory: "app", port: 8080, env } },
    });
    return deployment!;
  };

  it("git source → fetch, build, push (named stages with log tails) → the deployment runs the pushed digest in a container → ready and live, answering on its address; a second build of the project reuses cached layers", async () => {
    const repo = makeRepository(sources, "hello");
    const sha = repo.commit("first");
    const fixture = await createProject(app);
    const created = await deployGit(fixture, repo.dir, sha, { APP_VERSION: "git-1" });
    const ready = await waitForStatus(app, "acme", created.id, 120_000);
    assert.equal(ready.status, DeploymentStatus.READY, ready.errorMessage);
    assert.equal(ready.isLive, true);
    const pinned = new RegExp(`^${containers.registry.host.replace(/\./g, "\\.")}/${fixture.workspaceSlug}/${fixture.projectSlug}@sha256:[a-f0-9]{64}$`);
    assert.match(ready.image, pinned, "the deployment records the pushed digest");
    const tagged = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `http://${containers.registry.host}/v2/${fixture.workspaceSlug}/${fixture.projectSlug}/manifests/${ready.image.split("@")[1]}`], { encoding: "utf8" });
    assert.equal(tagged, "200", "the digest is in the registry");
    const stages = stagesOf(ready);
    assert.deepEqual(stages.map((s) => [s.name, s.status]), [["fetch", DeploymentStepStatus.SUCCEEDED], ["build", DeploymentStepStatus.SUCCEEDED], ["push", DeploymentStepStatus.SUCCEEDED]]);
    assert.match(stages[0]!.logTail, new RegExp(`checked out ${sha}`));
    assert.match(stages[1]!.logTail, /COMMIT|Successfully tagged/);
    assert.match(stages[2]!.logTail, new RegExp(`:${sha} as .*@sha256:`));
    const [instance] = ready.instances;
    assert.equal(instance?.status, InstanceStatus.RUNNING);
    const answer = await askHello(instance!.address);
    assert.equal(answer.version, "git-1");
    assert.equal(answer.pid, 1, "in a container");
    assert.ok(runningContainers(agent.podmanStorage!).some((c) => c.labels["switchyard.deployment"] === created.id));

    // One source file changed: the base and the package.json layer come from the cache.
    fs.appendFileSync(path.join(repo.dir, "app", "server.js"), "\n// a change\n");
    const second = await deployGit(fixture, repo.dir, repo.commit("second"), { APP_VERSION: "git-2" });
    const secondReady = await waitForStatus(app, "acme", second.id, 120_000);
    assert.equal(secondReady.status, DeploymentStatus.READY, secondReady.errorMessage);
    const build = stagesOf(secondReady).find((s) => s.name === "build")!;
    assert.match(build.logTail, /Using cache/, "cached layers reused");
    assert.notEqual(secondReady.image, ready.image, "a new digest");
    assert.equal((await askHello(secondReady.instances[0]!.address)).version, "git-2");
  });

  it("a Containerfile that fails → the deployment FAILED with the build's own error lines; the build stage failed with its log tail; nothing was pushed or run", async () => {
    const repo = makeRepository(sources, "broken");
    fs.appendFileSync(path.join(repo.dir, "app", "Containerfile"), '\nRUN echo "hello: dependency libfrob is missing" && exit 3\n');
    const fixture = await createProject(app);
    const created = await deployGit(fixture, repo.dir, repo.commit("broken"));
    const failed = await waitForStatus(app, "acme", created.id, 120_000);
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /build failed: build: podman build failed/);
    assert.match(failed.errorMessage, /dependency libfrob is missing/, "the build's own output");
    assert.match(failed.errorMessage, /exit status 3/);
    const stages = stagesOf(failed);
    assert.deepEqual(stages.map((s) => [s.name, s.status]), [["fetch", DeploymentStepStatus.SUCCEEDED], ["build", DeploymentStepStatus.FAILED]]);
    assert.match(stages[1]!.logTail, /dependency libfrob is missing/);
    const topology = await app.db.selectFrom("deployment_topology").select("deployment_id").where("deployment_id", "=", created.id).execute();
    assert.deepEqual(topology, []);
  });

  it("cancel during a build → CANCELLED, the build's processes stopped, its stage cancelled", async () => {
    const repo = makeRepository(sources, "slow");
    const fixture = await createProject(app);
    fs.appendFileSync(path.join(repo.dir, "app", "Containerfile"), `\nRUN echo building slowly ${fixture.projectSlug} && sleep 120\n`);
    const created = await deployGit(fixture, repo.dir, repo.commit("slow"));
    const buildProcesses = () =>
      fs.readdirSync("/proc").filter((pid) => {
        try {
          const cmdline = /^\d+$/.test(pid) ? fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
          // podman build (labelled with the deployment) and the RUN step's shell inside its container.
          return cmdline.includes(`switchyard.deployment=${created.id}`) || cmdline.includes(`building slowly ${fixture.projectSlug}`);
        } catch {
          return false;
        }
      });
    await until(
      "the slow RUN step to be running",
      async () => buildProcesses().length > 0 && stagesOf(await getDeployment(app, fixture, created.id)).some((s) => s.name === "build" && s.status === DeploymentStepStatus.RUNNING),
      60_000,
      50,
    );
    const { deployment } = await app.client(DeployService).cancelDeployment({ deploymentId: created.id });
    assert.equal(deployment?.status, DeploymentStatus.CANCELLED);
    await until("the build's processes to be gone", () => buildProcesses().length === 0, 15_000, 50);
    const build = stagesOf(await getDeployment(app, fixture, created.id)).find((s) => s.name === "build");
    assert.equal(build?.status, DeploymentStepStatus.CANCELLED);
  });

  it("a slow build never blocks a promote of its project (builds run outside the project's lock); RUN steps have no network", async () => {
    const fixture = await createProject(app);
    const image = await containers.pushImage(`${fixture.workspaceSlug}/${fixture.projectSlug}`, "prebuilt");
    const deployImage = async () => {
      const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
        workspaceId: fixture.workspaceId,
        projectId: fixture.projectId,
        environment: "production",
        source: { case: "image", value: { image, command: [], port: 8080, env: {} } },
      });
      assert.equal((await waitForStatus(app, "acme", deployment!.id, 60_000)).status, DeploymentStatus.READY);
      return deployment!.id;
    };
    const first = await deployImage();
    const second = await deployImage();
    const repo = makeRepository(sources, `offline-${fixture.projectSlug}`);
    // Only the loopback interface inside RUN steps: the build has no network.
    fs.appendFileSync(path.join(repo.dir, "app", "Containerfile"), `\nRUN echo "interfaces: $(ls /sys/class/net | tr '\\n' ' ')" && [ "$(ls /sys/class/net)" = lo ] && echo slow ${fixture.projectSlug} && sleep 60\n`);
    const slow = await deployGit(fixture, repo.dir, repo.commit("slow"));
    await until(
      "the slow build to be running its RUN step",
      async () => stagesOf(await getDeployment(app, fixture, slow.id)).some((s) => s.name === "build" && s.status === DeploymentStepStatus.RUNNING && /^slow web-/m.test(readBuildLog(slow.id))),
      60_000,
      50,
    );
    const started = Date.now();
    await app.client(DeployService).promote({ deploymentId: first });
    assert.ok(Date.now() - started < 10_000, `promote took ${Date.now() - started} ms during a build`);
    assert.equal((await getDeployment(app, fixture, first)).isLive, true);
    assert.equal((await getDeployment(app, fixture, second)).isLive, false);
    assert.match(readBuildLog(slow.id), /^interfaces: lo $/m);
    const building = await getDeployment(app, fixture, slow.id);
    assert.equal(building.status, DeploymentStatus.BUILDING, "the build goes on meanwhile");
    await app.client(DeployService).cancelDeployment({ deploymentId: slow.id });
  });

  it("a local repository outside SWITCHYARD_BUILD_LOCAL_SOURCES is refused (the server's disk is not a source)", async () => {
    const fixture = await createProject(app);
    const created = await deployGit(fixture, repoRoot, "0000000");
    const failed = await waitForStatus(app, "acme", created.id, 60_000);
    assert.equal(failed.status, DeploymentStatus.FAILED);
    assert.match(failed.errorMessage, /not a repository this platform may build/);
  });
});
