// Builders for the tests of deployments and routing: a tenant's workspace and project through
// the real API, and a deployment driven to READY by reporting its instances through the real
// ClusterService RPC with the region's agent credential, as an agent would once it sees the
// deployment's desired state.
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ClusterService, InstanceStatus, RegionDeploymentStatus } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { DeployService, DeploymentStatus, type Deployment } from "../../src/gen/ctrl/v1/deploy_pb.js";
import type { App } from "./app.js";
import { until } from "./until.js";

export type Tenant = "acme" | "globex";

export interface ProjectFixture {
  tenant: Tenant;
  workspaceId: string;
  workspaceSlug: string;
  projectId: string;
  projectSlug: string;
}

const suffix = () => randomBytes(3).toString("hex");

/** A project in a new workspace, or in `workspace` when given. */
export async function createProject(
  app: App,
  tenant: Tenant = "acme",
  environments: string[] = [],
  workspace?: { workspaceId: string; workspaceSlug: string },
): Promise<ProjectFixture> {
  const deploy = app.client(DeployService, tenant);
  let home = workspace;
  if (!home) {
    const workspaceSlug = `${tenant}-${suffix()}`;
    const created = await deploy.createWorkspace({ slug: workspaceSlug, name: workspaceSlug });
    home = { workspaceId: created.workspace!.id, workspaceSlug };
  }
  const projectSlug = `web-${suffix()}`;
  const { project } = await deploy.createProject({ workspaceId: home.workspaceId, slug: projectSlug });
  for (const slug of environments) await deploy.createEnvironment({ projectId: project!.id, slug });
  return { tenant, ...home, projectId: project!.id, projectSlug };
}

export interface DeployOptions {
  environment?: string;
  image?: string;
  gitSha?: string;
  branch?: string;
  /** Report the instances running (default) or leave the deployment waiting. */
  report?: "running" | "failed" | "none";
  /** Wait for a terminal status (default true when reporting). */
  wait?: boolean;
  idempotencyKey?: string;
}

/** Creates a deployment and (by default) drives it to a terminal status. */
export async function deploy(app: App, fixture: ProjectFixture, opts: DeployOptions = {}): Promise<Deployment> {
  const client = app.client(DeployService, fixture.tenant);
  const { deployment } = await client.createDeployment({
    workspaceId: fixture.workspaceId,
    projectId: fixture.projectId,
    environment: opts.environment ?? "production",
    source: {
      case: "image",
      value: {
        image: opts.image ?? "registry.example.com/web:1.0.0",
        port: 8080,
        git: opts.gitSha ? { sha: opts.gitSha, branch: opts.branch ?? "" } : undefined,
      },
    },
    idempotencyKey: opts.idempotencyKey ?? "",
  });
  const report = opts.report ?? "running";
  if (report !== "none") await reportInstances(app, fixture.tenant, deployment!.id, report);
  if (opts.wait ?? report !== "none") return waitForStatus(app, fixture.tenant, deployment!.id);
  return deployment!;
}

/**
 * The agent's report for region "local": one instance, running or failed — sent, like an agent
 * would, once the deployment's desired state exists in the region. `_tenant` is the deployment's
 * owner (the report itself uses the region's credential, which spans tenants).
 */
export async function reportInstances(app: App, _tenant: Tenant, deploymentId: string, status: "running" | "failed" = "running") {
  const cluster = app.client(ClusterService, { token: app.tokens.agents.local });
  await until(`desired state of ${deploymentId} in region local`, () =>
    cluster.getDesiredDeploymentState({ deploymentId, region: "local" }).then(
      () => true,
      (error: unknown) => {
        if (ConnectError.from(error).code === Code.NotFound) return false;
        throw error;
      },
    ),
  );
  await cluster.reportDeploymentStatus({
    deploymentId,
    region: "local",
    status: status === "running" ? RegionDeploymentStatus.RUNNING : RegionDeploymentStatus.FAILED,
    message: status === "failed" ? "container exited with code 1" : "",
    instances: [
      {
        instanceId: `${deploymentId}-local-0`,
        status: status === "running" ? InstanceStatus.RUNNING : InstanceStatus.FAILED,
        address: "127.0.0.1:18080",
      },
    ],
  });
}

const TERMINAL = [DeploymentStatus.READY, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED];

/** Polls GetDeployment until the deployment reaches a terminal status (bounded). */
export async function waitForStatus(app: App, tenant: Tenant, deploymentId: string, timeoutMs = 30_000): Promise<Deployment> {
  const client = app.client(DeployService, tenant);
  const deadline = Date.now() + timeoutMs;
  let last: Deployment | undefined;
  while (Date.now() < deadline) {
    last = (await client.getDeployment({ deploymentId })).deployment!;
    if (TERMINAL.includes(last.status)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`deployment ${deploymentId} still ${DeploymentStatus[last?.status ?? 0]} after ${timeoutMs} ms`);
}
