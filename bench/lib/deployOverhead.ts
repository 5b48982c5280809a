// What the platform adds to a deploy, through a real `switchyard agent --driver process` running
// examples/hello (a section of bench/agent.ts):
//
//   app ready (baseline)   the sample app's own time from spawn to its first healthy answer:
//                          `node examples/hello/server.js` started here, GET / polled every 5 ms
//   deploy                 CreateDeployment → GetDeployment says READY (polled every 10 ms), a
//                          production deploy of the same app through the agent
//   deploy_overhead        deploy − app ready (p50 of each): the workflow, the change feed, the
//                          agent's apply and health checks, the report and the live swap
import { spawn } from "node:child_process";
import { DeployService, DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { freePort, startAgent } from "../../test/harness/index.js";
import type { App } from "../../test/support/app.js";
import { createProject } from "../../test/support/fixtures.js";
import { HELLO_COMMAND } from "../../test/support/helloApp.js";
import { percentile, round, timeIt } from "./stats.js";

const ITERATIONS = Number(process.env.BENCH_DEPLOY_ITERATIONS ?? 20);
const WARMUP = 3;
const LIMIT_MS = 30_000;

/** Spawns the sample app and returns when GET / first answers below 500. */
async function appReady(): Promise<void> {
  const port = await freePort();
  const child = spawn(HELLO_COMMAND[0]!, HELLO_COMMAND.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: "ignore" });
  try {
    const deadline = performance.now() + LIMIT_MS;
    while (performance.now() < deadline) {
      const status = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
      if (status > 0 && status < 500) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("the sample app never answered");
  } finally {
    child.kill("SIGKILL");
  }
}

export async function measureDeployOverhead(app: App): Promise<Record<string, number>> {
  const agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_LOG_LEVEL: "warn" } });
  try {
    const fixture = await createProject(app);
    const client = app.client(DeployService);
    const baseline = await timeIt(ITERATIONS, WARMUP, () => appReady());
    const deploys = await timeIt(ITERATIONS, WARMUP, async () => {
      const { deployment } = await client.createDeployment({
        workspaceId: fixture.workspaceId,
        projectId: fixture.projectId,
        environment: "production",
        source: { case: "image", value: { image: "hello:1.0.0", command: HELLO_COMMAND, port: 8080 } },
      });
      const deadline = performance.now() + LIMIT_MS;
      while (performance.now() < deadline) {
        const { status, errorMessage } = (await client.getDeployment({ deploymentId: deployment!.id })).deployment!;
        if (status === DeploymentStatus.READY) return;
        if (status === DeploymentStatus.FAILED || status === DeploymentStatus.CANCELLED) throw new Error(`deployment ${deployment!.id} ${DeploymentStatus[status]}: ${errorMessage}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`deployment ${deployment!.id} not ready after ${LIMIT_MS} ms`);
    });
    const appP50 = percentile(baseline, 50);
    const deployP50 = percentile(deploys, 50);
    return {
      deploy_iterations: ITERATIONS,
      app_ready_p50_ms: round(appP50),
      app_ready_p99_ms: round(percentile(baseline, 99)),
      deploy_p50_ms: round(deployP50),
      deploy_p99_ms: round(percentile(deploys, 99)),
      deploy_overhead_p50_ms: round(deployP50 - appP50),
      deploy_ratio_to_app_ready: round(deployP50 / appP50),
    };
  } finally {
    await agent.stop();
  }
}
