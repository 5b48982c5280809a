import { randomUUID } from "node:crypto";
import { Command, Option } from "commander";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  type Deployment,
  DeploymentPhase,
  DeploymentSchema,
  DeploymentStatus,
  DeploymentStepStatus,
  type DeployService,
} from "../gen/ctrl/v1/deploy_pb.js";
import { parseDuration } from "../config.js";
import { OpenApiService } from "../gen/ctrl/v1/openapi_pb.js";
import { apiClient, DEFAULT_API_URL, deployClient } from "./client.js";
import { deploySpecSummary } from "./openapi.js";
import { derivedIdempotencyKey } from "./idempotencyKey.js";
import { instanceLines } from "./deploymentInstances.js";
import { EXIT, formatDuration, printJson, runCommand, UsageError } from "./output.js";

interface DeployOptions {
  workspace: string;
  project: string;
  env: string;
  image?: string;
  port?: string;
  command?: string[];
  envVar?: string[];
  gitSha?: string;
  branch?: string;
  repository?: string;
  directory?: string;
  message?: string;
  author?: string;
  replicas?: string;
  healthPath?: string;
  startupTimeout?: string;
  wait?: boolean;
  quiet?: boolean;
  timeout: string;
  json?: boolean;
  idempotencyKey?: string;
  forceNew?: boolean;
  url?: string;
}

const TERMINAL = [DeploymentStatus.READY, DeploymentStatus.FAILED, DeploymentStatus.CANCELLED];
const POLL_MS = 500;

export function deployCommand(): Command {
  return new Command("deploy")
    .description("create a deployment from a pre-built image or a git commit; --wait follows it phase by phase")
    .requiredOption("--workspace <id>", "workspace id")
    .requiredOption("--project <id>", "project id")
    .requiredOption("--env <slug>", "environment slug or id, e.g. production")
    .option("--image <ref>", "pre-built OCI image reference")
    .option("--port <n>", "port the application listens on")
    .option("--command <arg...>", "override the image's command")
    .option("--env-var <KEY=VALUE...>", "environment variable for the instances (repeatable)")
    .option("--git-sha <sha>", "commit the deployment comes from (with --image: provenance)")
    .option("--branch <name>", "git branch (drives the per-branch hostname)")
    .option("--repository <url>", "git repository (needed to build a git-only deployment)")
    .option("--directory <path>", "directory of the repository holding the Containerfile, the build context (default: its root)")
    .option("--message <text>", "commit message")
    .option("--author <name>", "commit author")
    .option("--replicas <n>", "instances per region (default 1)")
    .option("--health-path <path>", "path the agents health-check: GET answering below 500 (default /)")
    .option("--startup-timeout <duration>", "how long an instance may take to become healthy (default: the agent's)")
    .option("--wait", "wait until the deployment is ready, failed or cancelled, printing each phase and, once ready, its instances")
    .option("-q, --quiet", "print only the deployment id (with --wait: once it is ready; the exit code tells how it ended)")
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 10m)", "10m")
    .option("--json", "print the deployment as JSON")
    .addOption(new Option("--idempotency-key <key>", "retry key; default: derived from the inputs and the CI run, so a retried step is deduplicated"))
    .option("--force-new", "always create a new deployment, even for inputs deployed before")
    .option("--url <url>", `API URL (default $SWITCHYARD_URL or ${DEFAULT_API_URL})`)
    .addHelpText(
      "after",
      "\nThe API token comes from $SWITCHYARD_TOKEN. Exit codes: 0 ready (or created, without --wait),\n1 failed/cancelled or refused by the server, 2 usage error, 3 --wait timed out.",
    )
    .action((options: DeployOptions) => runCommand(() => deploy(options)));
}

async function deploy(options: DeployOptions): Promise<number> {
  if (!options.image && !options.gitSha) throw new UsageError("give --image <ref> or --git-sha <sha> (with --branch)");
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout: "${options.timeout}" is not a duration (e.g. 90s, 10m)`);
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0) throw new UsageError(`--port: "${options.port}" is not a port number`);
  const env = parseEnvVars(options.envVar ?? []);
  const replicas = options.replicas === undefined ? 0 : Number(options.replicas);
  if (options.replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1)) throw new UsageError(`--replicas: "${options.replicas}" is not a positive number`);
  const startupTimeoutMs = options.startupTimeout === undefined ? undefined : parseDuration(options.startupTimeout);
  if (options.startupTimeout !== undefined && startupTimeoutMs === undefined) throw new UsageError(`--startup-timeout: "${options.startupTimeout}" is not a duration (e.g. 30s, 2m)`);
  const git = options.gitSha
    ? { sha: options.gitSha, branch: options.branch ?? "", repository: options.repository ?? "", directory: options.directory ?? "", message: options.message ?? "", author: options.author ?? "" }
    : undefined;
  const client = deployClient(options);
  const { deployment } = await client.createDeployment({
    workspaceId: options.workspace,
    projectId: options.project,
    environment: options.env,
    source: options.image
      ? { case: "image", value: { image: options.image, port, command: options.command ?? [], env, git } }
      : { case: "git", value: { ...git!, port, env } },
    runtime: { replicas, healthCheckPath: options.healthPath ?? "", startupTimeout: startupTimeoutMs === undefined ? undefined : durationFromMs(startupTimeoutMs) },
    idempotencyKey: options.forceNew ? randomUUID() : (options.idempotencyKey ?? derivedKey(options, port, env)),
  });
  if (!options.wait) {
    if (options.quiet) process.stdout.write(`${deployment!.id}\n`);
    else if (options.json) printJson(DeploymentSchema, deployment!);
    else process.stdout.write(`created ${deployment!.id} (${DeploymentStatus[deployment!.status].toLowerCase()})\n`);
    return EXIT.ok;
  }
  const human = !options.json && !options.quiet;
  if (human) process.stdout.write(`deployment ${deployment!.id}\n`);
  const final = await follow(client, deployment!.id, timeoutMs, human);
  if (options.json && final) printJson(DeploymentSchema, final);
  if (options.quiet && final?.status === DeploymentStatus.READY) process.stdout.write(`${final.id}\n`);
  if (!final) {
    process.stderr.write(`error: timed out after ${options.timeout}; the deployment goes on — follow it with: switchyard deployments get ${deployment!.id}\n`);
    return EXIT.timeout;
  }
  if (final.status !== DeploymentStatus.READY) {
    process.stderr.write(`error: deployment ${final.id} ${DeploymentStatus[final.status].toLowerCase()}: ${final.errorMessage || "no detail"}\n`);
    return EXIT.failed;
  }
  if (human) process.stdout.write(await deploySpecSummary(apiClient(OpenApiService, options), final));
  return EXIT.ok;
}

/** Polls until a terminal status (or the timeout), printing each phase as it starts and ends. */
async function follow(client: Client<typeof DeployService>, id: string, timeoutMs: number, print: boolean): Promise<Deployment | undefined> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Map<DeploymentPhase, DeploymentStepStatus>();
  while (Date.now() < deadline) {
    const { deployment } = await client.getDeployment({ deploymentId: id });
    for (const step of deployment!.steps) {
      if (seen.get(step.phase) === step.status) continue;
      seen.set(step.phase, step.status);
      if (print) process.stdout.write(`${stepLine(step.phase, step.status, step.startTime && step.endTime ? timestampDate(step.endTime).getTime() - timestampDate(step.startTime).getTime() : undefined, step.error)}\n`);
    }
    if (TERMINAL.includes(deployment!.status)) {
      if (print) {
        const where = deployment!.hostnames.length ? `\n  ${deployment!.hostnames.join("\n  ")}` : "";
        process.stdout.write(`${DeploymentStatus[deployment!.status].toLowerCase()}${deployment!.isLive ? " and live" : ""}${where}\n`);
        if (deployment!.status === DeploymentStatus.READY) process.stdout.write(instanceLines(deployment!, { curlHint: true }));
      }
      return deployment!;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return undefined;
}

function stepLine(phase: DeploymentPhase, status: DeploymentStepStatus, ms: number | undefined, error: string): string {
  const name = DeploymentPhase[phase].toLowerCase();
  switch (status) {
    case DeploymentStepStatus.RUNNING:
      return `▸ ${name} …`;
    case DeploymentStepStatus.SUCCEEDED:
      return `✓ ${name}${ms === undefined ? "" : ` ${formatDuration(ms)}`}`;
    case DeploymentStepStatus.SKIPPED:
      return `- ${name} skipped`;
    default:
      return `✗ ${name} ${DeploymentStepStatus[status].toLowerCase()}${error ? `: ${error}` : ""}`;
  }
}

function parseEnvVars(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf("=");
    if (separator < 1) throw new UsageError(`--env-var: "${pair}" must be KEY=VALUE`);
    env[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return env;
}

/** Everything that makes two deploys different (see derivedIdempotencyKey). */
function derivedKey(options: DeployOptions, port: number, env: Record<string, string>): string {
  const runtime = [options.replicas, options.healthPath, options.startupTimeout];
  return derivedIdempotencyKey([options.workspace, options.project, options.env, options.image, options.gitSha, options.branch, port, options.command, Object.entries(env).sort(), ...(runtime.some((r) => r !== undefined) ? [runtime] : [])]);
}
