import { createHash, randomUUID } from "node:crypto";
import { Command, Option } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
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
import { deployClient } from "./client.js";
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
  message?: string;
  author?: string;
  wait?: boolean;
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
    .option("--message <text>", "commit message")
    .option("--author <name>", "commit author")
    .option("--wait", "wait until the deployment is ready, failed or cancelled, printing each phase")
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 10m)", "10m")
    .option("--json", "print the deployment as JSON")
    .addOption(new Option("--idempotency-key <key>", "retry key; default: derived from the inputs and the CI run, so a retried step is deduplicated"))
    .option("--force-new", "always create a new deployment, even for inputs deployed before")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL or http://127.0.0.1:8080)")
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
  const git = options.gitSha
    ? { sha: options.gitSha, branch: options.branch ?? "", repository: options.repository ?? "", message: options.message ?? "", author: options.author ?? "" }
    : undefined;
  const client = deployClient(options);
  const { deployment } = await client.createDeployment({
    workspaceId: options.workspace,
    projectId: options.project,
    environment: options.env,
    source: options.image
      ? { case: "image", value: { image: options.image, port, command: options.command ?? [], env, git } }
      : { case: "git", value: { ...git!, port, env } },
    idempotencyKey: options.forceNew ? randomUUID() : (options.idempotencyKey ?? derivedKey(options, port, env)),
  });
  if (!options.wait) {
    if (options.json) printJson(DeploymentSchema, deployment!);
    else process.stdout.write(`created ${deployment!.id} (${DeploymentStatus[deployment!.status].toLowerCase()})\n`);
    return EXIT.ok;
  }
  if (!options.json) process.stdout.write(`deployment ${deployment!.id}\n`);
  const final = await follow(client, deployment!.id, timeoutMs, !options.json);
  if (options.json && final) printJson(DeploymentSchema, final);
  if (!final) {
    process.stderr.write(`error: timed out after ${options.timeout}; the deployment goes on — follow it with: switchyard deployments get ${deployment!.id}\n`);
    return EXIT.timeout;
  }
  if (final.status !== DeploymentStatus.READY) {
    process.stderr.write(`error: deployment ${final.id} ${DeploymentStatus[final.status].toLowerCase()}: ${final.errorMessage || "no detail"}\n`);
    return EXIT.failed;
  }
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

/**
 * The same inputs in the same CI run give the same key, so a retried pipeline step returns the
 * deployment it already created instead of making a second one.
 */
function derivedKey(options: DeployOptions, port: number, env: Record<string, string>): string {
  const run = process.env.GITHUB_RUN_ID ?? process.env.CI_PIPELINE_ID ?? process.env.BUILD_ID ?? process.env.BUILDKITE_BUILD_ID ?? "";
  const inputs = [options.workspace, options.project, options.env, options.image, options.gitSha, options.branch, port, options.command, Object.entries(env).sort(), run];
  return `cli-${createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 32)}`;
}
