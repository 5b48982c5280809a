import { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Deployment, DeploymentPhase, DeploymentSchema, DeploymentStatus, DeploymentStepStatus, ListDeploymentsResponseSchema } from "../gen/ctrl/v1/deploy_pb.js";
import { deployClient } from "./client.js";
import { instanceLines, instanceStatusName, runningAddresses } from "./deploymentInstances.js";
import { age, formatDuration, printJson, runCommand, table, UsageError } from "./output.js";

interface ListOptions {
  project: string;
  env?: string;
  branch?: string;
  status?: string;
  limit: string;
  json?: boolean;
  url?: string;
}

const STATUSES = Object.keys(DeploymentStatus).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED").map((k) => k.toLowerCase());

export function deploymentsCommand(): Command {
  const command = new Command("deployments").description("list and inspect deployments");
  command
    .command("list")
    .description("deployments of a project, newest first")
    .requiredOption("--project <id>", "project id")
    .option("--env <slug>", "only this environment")
    .option("--branch <name>", "only this git branch")
    .option("--status <status>", `only this status (${STATUSES.join(", ")})`)
    .option("--limit <n>", "at most this many", "20")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((options: ListOptions) =>
      runCommand(async () => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit: "${options.limit}" must be 1-500`);
        let status = DeploymentStatus.UNSPECIFIED;
        if (options.status) {
          const value = DeploymentStatus[options.status.toUpperCase() as keyof typeof DeploymentStatus];
          if (value === undefined) throw new UsageError(`--status: "${options.status}" is not one of ${STATUSES.join(", ")}`);
          status = value;
        }
        const response = await deployClient(options).listDeployments({
          projectId: options.project,
          environment: options.env ?? "",
          branch: options.branch ?? "",
          status,
          pageSize: limit,
        });
        if (options.json) return printJson(ListDeploymentsResponseSchema, response);
        const rows = response.deployments.map((d) => [
          d.id,
          d.environmentSlug,
          DeploymentStatus[d.status].toLowerCase(),
          d.git?.branch ?? "",
          d.git?.sha.slice(0, 7) ?? "",
          d.isLive ? "live" : "",
          d.createTime ? age(timestampDate(d.createTime)) : "",
        ]);
        process.stdout.write(table(["ID", "ENV", "STATUS", "BRANCH", "SHA", "LIVE", "AGE"], rows));
      }),
    );
  command
    .command("get")
    .description("one deployment with its phases and hostnames")
    .argument("<deployment>", "deployment id")
    .option("--json", "print the deployment as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((deploymentId: string, options: { json?: boolean; url?: string }) =>
      runCommand(async () => {
        const { deployment } = await deployClient(options).getDeployment({ deploymentId });
        if (options.json) return printJson(DeploymentSchema, deployment!);
        process.stdout.write(describe(deployment!));
      }),
    );
  command
    .command("instances")
    .description("the instances the agents report for a deployment")
    .argument("<deployment>", "deployment id")
    .option("-q, --quiet", "print only the addresses of running instances, one a line")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((deploymentId: string, options: { quiet?: boolean; url?: string }) =>
      runCommand(async () => {
        const { deployment } = await deployClient(options).getDeployment({ deploymentId });
        if (options.quiet) {
          const addresses = runningAddresses(deployment!);
          process.stdout.write(addresses.map((a) => `${a}\n`).join(""));
          return addresses.length > 0 ? 0 : 1;
        }
        const rows = deployment!.instances.map((i) => [i.region, i.instanceId, instanceStatusName(i.status), i.address, i.updateTime ? age(timestampDate(i.updateTime)) : ""]);
        process.stdout.write(table(["REGION", "INSTANCE", "STATUS", "ADDRESS", "UPDATED"], rows));
      }),
    );
  return command;
}

function describe(d: Deployment): string {
  const lines = [
    `${d.id}  ${DeploymentStatus[d.status].toLowerCase()}${d.isLive ? ", live" : ""}`,
    `  project ${d.projectId}, environment ${d.environmentSlug}`,
    `  image ${d.image || "(not built yet)"}${d.port ? ` port ${d.port}` : ""}`,
    d.git ? `  git ${d.git.sha.slice(0, 12)}${d.git.branch ? ` on ${d.git.branch}` : ""}${d.git.message ? ` — ${d.git.message.split("\n")[0]}` : ""}` : "",
    d.errorMessage ? `  error: ${d.errorMessage}` : "",
    "  phases:",
    ...d.steps.map((s) => {
      const ms = s.startTime && s.endTime ? formatDuration(timestampDate(s.endTime).getTime() - timestampDate(s.startTime).getTime()) : "";
      return `    ${DeploymentPhase[s.phase].toLowerCase().padEnd(9)} ${DeploymentStepStatus[s.status].toLowerCase().padEnd(10)} ${ms}${s.error ? `  ${s.error}` : ""}`;
    }),
    d.runtime ? `  replicas ${d.runtime.replicas}, health check GET ${d.runtime.healthCheckPath}` : "",
    d.hostnames.length ? "  hostnames:" : "",
    ...d.hostnames.map((h) => `    ${h}`),
    instanceLines(d).trimEnd(),
  ];
  return `${lines.filter(Boolean).join("\n")}\n`;
}
