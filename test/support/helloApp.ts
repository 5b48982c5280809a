// Deployments of the sample app (examples/hello) for the agent tests: the process driver runs
// `node examples/hello/server.js` with the deployment's env; nothing reports by hand.
import path from "node:path";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { DeployService, DeploymentStatus, type Deployment } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { InstanceStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { repoRoot } from "../harness/index.js";
import type { App } from "./app.js";
import type { ProjectFixture } from "./fixtures.js";
import { until } from "./until.js";

export const HELLO_COMMAND = [process.execPath, path.join(repoRoot, "examples", "hello", "server.js")];

export interface HelloOptions {
  env?: Record<string, string>;
  replicas?: number;
  startupTimeoutMs?: number;
  healthCheckPath?: string;
  environment?: string;
}

export async function deployHello(app: App, fixture: ProjectFixture, opts: HelloOptions = {}): Promise<Deployment> {
  const { deployment } = await app.client(DeployService, fixture.tenant).createDeployment({
    workspaceId: fixture.workspaceId,
    projectId: fixture.projectId,
    environment: opts.environment ?? "production",
    source: { case: "image", value: { image: "hello:1.0.0", command: HELLO_COMMAND, port: 8080, env: opts.env ?? {} } },
    runtime: {
      replicas: opts.replicas ?? 0,
      healthCheckPath: opts.healthCheckPath ?? "",
      startupTimeout: opts.startupTimeoutMs ? durationFromMs(opts.startupTimeoutMs) : undefined,
    },
  });
  return deployment!;
}

export async function getDeployment(app: App, fixture: ProjectFixture, deploymentId: string): Promise<Deployment> {
  return (await app.client(DeployService, fixture.tenant).getDeployment({ deploymentId })).deployment!;
}

/** Addresses of the instances reported RUNNING, once there are `count` of them (bounded). */
export async function runningAddresses(app: App, fixture: ProjectFixture, deploymentId: string, count = 1, timeoutMs = 30_000): Promise<string[]> {
  return until(
    `${count} running instance(s) of ${deploymentId}`,
    async () => {
      const running = (await getDeployment(app, fixture, deploymentId)).instances.filter((i) => i.status === InstanceStatus.RUNNING);
      return running.length === count ? running.map((i) => i.address) : undefined;
    },
    timeoutMs,
  );
}

/** GET / of an instance: the sample app's JSON answer. */
export async function askHello(address: string): Promise<{ app: string; version: string; instance: string | null; pid: number }> {
  const response = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET http://${address}/ answered ${response.status}`);
  return (await response.json()) as { app: string; version: string; instance: string | null; pid: number };
}

export const isReady = (d: Deployment) => d.status === DeploymentStatus.READY;
