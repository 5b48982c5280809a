/*
 * npm run bench:build — builds from git and container start-up, on the real stack (MariaDB,
 * restate-server, switchyard serve, docker-registry, podman + runc, the agent). Writes
 * bench/results/build.json.
 *
 *   build_cold_s            the build stage of a project's first build (the base image present,
 *                           no layer of the project cached), from build_steps' start/end
 *   build_warm_s            the same project, one source file changed: every layer before the
 *                           COPY of that file comes from the cache
 *   push_s                  the push stage of the cold build (every layer new to the registry)
 *   container_ready_p50_ms  CreateDeployment of a pre-built image already in the agent's storage →
 *                           its instance reported RUNNING (healthy), with --driver container,
 *                           minus the app's own start time (app_start_p50_ms)
 *   process_ready_p50_ms    the same with --driver process (the app as a local process), same run
 *
 * The project is examples/hello with one RUN step standing in for a dependency install (2 s of
 * CPU and 20 MB written), as real projects have one before their sources are copied.
 * Targets (issue 17): build_warm_s ≤ 0.3 × build_cold_s; container_ready_p50_ms ≤
 * 2 × process_ready_p50_ms + 500.
 */
import "../src/polyfill.js";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { LOCAL_NODE_IMAGE } from "../src/containers/baseImage.js";
import { InstanceStatus } from "../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService, DeploymentStatus } from "../src/gen/ctrl/v1/deploy_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateDeploymentRequestSchema } from "../src/gen/ctrl/v1/deploy_pb.js";
import { freePort, makeTempDir, removeTempDir, repoRoot, startAgent, startContainerEnv } from "../test/harness/index.js";
import { startApp, type App } from "../test/support/app.js";
import { createProject, type ProjectFixture } from "../test/support/fixtures.js";
import { HELLO_COMMAND } from "../test/support/helloApp.js";
import { report } from "./lib/report.js";
import { percentile, round } from "./lib/stats.js";

type Source = MessageInitShape<typeof CreateDeploymentRequestSchema>["source"];

const ITERATIONS = Number(process.env.BENCH_READY_ITERATIONS ?? 10);
const LIMIT_MS = 120_000;

const CONTAINERFILE = `ARG NODE_IMAGE=docker.io/library/node:20-alpine
FROM \${NODE_IMAGE}
WORKDIR /app
COPY package.json ./
# Stands in for a dependency install (npm ci): 2 s of CPU and 20 MB of files.
RUN node -e "const fs=require('fs');fs.mkdirSync('node_modules/dep',{recursive:true});const t=Date.now();let x=0;while(Date.now()-t<2000)x++;fs.writeFileSync('node_modules/dep/blob',Buffer.alloc(20e6,x%251))"
COPY server.js ./
ENV HOST=0.0.0.0 PORT=8080
USER 1000:1000
CMD ["node", "server.js"]
`;

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=Bench", "-c", "user.email=bench@example.com", ...args], { cwd, encoding: "utf8" }).trim();

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + LIMIT_MS;
  while (performance.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function deployAndWait(app: App, fixture: ProjectFixture, source: Source): Promise<{ id: string; ms: number }> {
  const client = app.client(DeployService);
  const started = performance.now();
  const { deployment } = await client.createDeployment({ workspaceId: fixture.workspaceId, projectId: fixture.projectId, environment: "production", source });
  const id = deployment!.id;
  await waitFor(`${id} ready`, async () => {
    const current = (await client.getDeployment({ deploymentId: id })).deployment!;
    if (current.status === DeploymentStatus.FAILED || current.status === DeploymentStatus.CANCELLED) throw new Error(`${id} ${DeploymentStatus[current.status]}: ${current.errorMessage}`);
    return current.status === DeploymentStatus.READY ? true : undefined;
  });
  return { id, ms: performance.now() - started };
}

/** CreateDeployment → the instance reported RUNNING (healthy), `count` times. */
async function readyTimes(app: App, fixture: ProjectFixture, source: Source, count: number): Promise<number[]> {
  const client = app.client(DeployService);
  const times: number[] = [];
  for (let i = 0; i < count + 1; i++) {
    const started = performance.now();
    const { deployment } = await client.createDeployment({ workspaceId: fixture.workspaceId, projectId: fixture.projectId, environment: "staging", source });
    await waitFor("a running instance", async () => {
      const current = (await client.getDeployment({ deploymentId: deployment!.id })).deployment!;
      if (current.status === DeploymentStatus.FAILED) throw new Error(current.errorMessage);
      return current.instances.some((instance) => instance.status === InstanceStatus.RUNNING) ? true : undefined;
    });
    if (i > 0) times.push(performance.now() - started); // the first one warms up
  }
  return times;
}

/** The sample app's own time from spawn to its first answer, as a local process. */
async function appStartTimes(count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const started = performance.now();
    const child = spawn(HELLO_COMMAND[0]!, HELLO_COMMAND.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: "ignore" });
    try {
      await waitFor("the sample app", async () => ((await fetch(`http://127.0.0.1:${port}/`).then((r) => r.status, () => 0)) > 0 ? true : undefined));
      times.push(performance.now() - started);
    } finally {
      child.kill("SIGKILL");
    }
  }
  return times;
}

async function stageSeconds(app: App, deploymentId: string, name: string): Promise<number> {
  const row = await app.db.selectFrom("build_steps").select(["started_at", "ended_at"]).where("deployment_id", "=", deploymentId).where("name", "=", name).executeTakeFirstOrThrow();
  return (row.ended_at!.getTime() - row.started_at.getTime()) / 1000;
}

const seconds = round;

async function main(): Promise<void> {
  const containers = await startContainerEnv();
  const sources = await makeTempDir("bench-sources");
  let app: App | undefined;
  try {
    app = await startApp({
      env: {
        SWITCHYARD_LOG_LEVEL: "warn",
        SWITCHYARD_REGISTRY: containers.registry.host,
        SWITCHYARD_REGISTRY_INSECURE: "true",
        SWITCHYARD_BUILD_DIR: path.join(sources, ".builds"),
        SWITCHYARD_BUILD_PODMAN_STORAGE: containers.storageDir,
        SWITCHYARD_BUILD_ARGS: `NODE_IMAGE=${LOCAL_NODE_IMAGE}`,
        SWITCHYARD_BUILD_LOCAL_SOURCES: sources,
      },
    });
    const repo = path.join(sources, "hello");
    fs.mkdirSync(repo);
    for (const file of ["package.json", "server.js"]) fs.copyFileSync(path.join(repoRoot, "examples", "hello", file), path.join(repo, file));
    fs.writeFileSync(path.join(repo, "Containerfile"), CONTAINERFILE);
    git(repo, "init", "--quiet", "--initial-branch", "main");
    const commit = (message: string) => (git(repo, "add", "-A"), git(repo, "commit", "--quiet", "-m", message), git(repo, "rev-parse", "HEAD"));

    const containerAgent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, containers: { insecureRegistries: [containers.registry.host] }, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
    let cold: { id: string };
    let warm: { id: string };
    let containerTimes: number[];
    const fixture = await createProject(app, "acme", ["staging"]);
    try {
      cold = await deployAndWait(app, fixture, { case: "git", value: { sha: commit("cold"), repository: repo, port: 8080 } });
      fs.appendFileSync(path.join(repo, "server.js"), "\n// one source file changed\n");
      warm = await deployAndWait(app, fixture, { case: "git", value: { sha: commit("warm"), repository: repo, port: 8080 } });
      const image = (await app.client(DeployService).getDeployment({ deploymentId: warm.id })).deployment!.image;
      containerTimes = await readyTimes(app, fixture, { case: "image", value: { image, command: [], port: 8080 } }, ITERATIONS);
    } finally {
      await containerAgent.stop();
    }
    const processAgent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
    let processTimes: number[];
    try {
      processTimes = await readyTimes(app, await createProject(app, "acme", ["staging"]), { case: "image", value: { image: "hello:1.0.0", command: HELLO_COMMAND, port: 8080 } }, ITERATIONS);
    } finally {
      await processAgent.stop();
    }
    const appStart = percentile(await appStartTimes(ITERATIONS), 50);
    const buildCold = await stageSeconds(app, cold.id, "build");
    const buildWarm = await stageSeconds(app, warm.id, "build");
    const containerReady = percentile(containerTimes, 50) - appStart;
    const processReady = percentile(processTimes, 50) - appStart;
    report("build", {
      build_cold_s: seconds(buildCold),
      build_warm_s: seconds(buildWarm),
      build_warm_ratio_to_cold: round(buildWarm / buildCold),
      fetch_s: seconds(await stageSeconds(app, cold.id, "fetch")),
      push_s: seconds(await stageSeconds(app, cold.id, "push")),
      push_warm_s: seconds(await stageSeconds(app, warm.id, "push")),
      app_start_p50_ms: round(appStart),
      container_ready_p50_ms: round(containerReady),
      container_ready_p99_ms: round(percentile(containerTimes, 99) - appStart),
      process_ready_p50_ms: round(processReady),
      process_ready_p99_ms: round(percentile(processTimes, 99) - appStart),
      container_ready_target_ms: round(2 * processReady + 500),
      ready_iterations: ITERATIONS,
    });
  } finally {
    await app?.stop();
    await containers.stop();
    await removeTempDir(sources);
  }
}

await main();
