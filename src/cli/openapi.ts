import { Command, Option } from "commander";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  BreakingChangesPolicy,
  ApiSettingsSchema,
  GetDiffResponseSchema,
  GetSpecResponseSchema,
  OpenApiService,
  SpecChangeLevel,
  type GetDiffResponse,
  type SpecChange,
} from "../gen/ctrl/v1/openapi_pb.js";
import type { Deployment } from "../gen/ctrl/v1/deploy_pb.js";
import { apiClient, type ConnectionOptions } from "./client.js";
import { EXIT, printJson, runCommand, table } from "./output.js";

interface Options extends ConnectionOptions {
  json?: boolean;
}

const URL_OPTION = "API URL (default $SWITCHYARD_URL)";

/** `switchyard openapi get | diff | settings`: the specs scraped from deployments. */
export function openapiCommand(): Command {
  const openapi = new Command("openapi").description("OpenAPI specs scraped from deployments, and their breaking changes");
  openapi
    .command("get")
    .description("print the spec a deployment served (as served; its validation problems on stderr)")
    .argument("<deployment>", "deployment id")
    .option("--json", "print the spec with its hash, format and problems as JSON")
    .option("--url <url>", URL_OPTION)
    .action((deploymentId: string, options: Options) =>
      runCommand(async () => {
        const spec = await apiClient(OpenApiService, options).getSpec({ deploymentId });
        if (options.json) return printJson(GetSpecResponseSchema, spec);
        process.stdout.write(spec.spec.endsWith("\n") ? spec.spec : `${spec.spec}\n`);
        if (spec.problems.length > 0) process.stderr.write(`warning: the spec has ${spec.problems.length} problem(s):\n${spec.problems.map((p) => `  - ${p}\n`).join("")}`);
      }),
    );
  openapi
    .command("diff")
    .description("changes from one deployment's spec to another's; with one deployment, against its environment's live one (or the one it replaced)")
    .argument("<from>", "the baseline deployment (or, alone, the deployment to check)")
    .argument("[to]", "the deployment to compare with the baseline")
    .option("--json", "print the changes as JSON")
    .option("--url <url>", URL_OPTION)
    .addHelpText("after", "\nExit codes: 0 no breaking change, 1 breaking changes (or refused by the server), 2 usage error.")
    .action((from: string, to: string | undefined, options: Options) =>
      runCommand(async () => {
        const diff = await apiClient(OpenApiService, options).getDiff(to === undefined ? { newDeploymentId: from } : { oldDeploymentId: from, newDeploymentId: to });
        if (options.json) printJson(GetDiffResponseSchema, diff);
        else process.stdout.write(diffReport(diff));
        return diff.hasBreakingChanges ? EXIT.failed : EXIT.ok;
      }),
    );
  openapi
    .command("settings")
    .description("show or change a project's spec path and breaking-changes policy")
    .argument("<project>", "project id")
    .option("--spec-path <path>", "where the spec is fetched on an instance (default /openapi.yaml)")
    .addOption(new Option("--breaking-changes <policy>", "what a promote does with breaking changes (default warn)").choices(["allow", "warn", "block"]))
    .option("--json", "print the settings as JSON")
    .addHelpText("after", "\nWith neither --spec-path nor --breaking-changes it shows the settings.")
    .option("--url <url>", URL_OPTION)
    .action((projectId: string, options: Options & { specPath?: string; breakingChanges?: "allow" | "warn" | "block" }) =>
      runCommand(async () => {
        const client = apiClient(OpenApiService, options);
        const change = options.specPath !== undefined || options.breakingChanges !== undefined;
        const answer = change
          ? await client.updateApiSettings({ projectId, specPath: options.specPath ?? "", breakingChanges: options.breakingChanges ? POLICY[options.breakingChanges] : BreakingChangesPolicy.UNSPECIFIED })
          : await client.getApiSettings({ projectId });
        if (options.json) return printJson(ApiSettingsSchema, answer.settings!);
        const settings = answer.settings!;
        process.stdout.write(`spec path         ${settings.specPath}\nbreaking changes  ${BreakingChangesPolicy[settings.breakingChanges].toLowerCase()}\n`);
      }),
    );
  return openapi;
}

const POLICY = { allow: BreakingChangesPolicy.ALLOW, warn: BreakingChangesPolicy.WARN, block: BreakingChangesPolicy.BLOCK } as const;

const LEVEL_NAME: Record<SpecChangeLevel, string> = {
  [SpecChangeLevel.UNSPECIFIED]: "?",
  [SpecChangeLevel.BREAKING]: "breaking",
  [SpecChangeLevel.WARNING]: "warning",
  [SpecChangeLevel.INFO]: "info",
};

/** "3 changes (1 breaking, 1 warning, 1 info)". */
export function diffCounts(changes: readonly SpecChange[]): string {
  const count = (level: SpecChangeLevel) => changes.filter((c) => c.level === level).length;
  if (changes.length === 0) return "no changes";
  return `${changes.length} change(s) (${count(SpecChangeLevel.BREAKING)} breaking, ${count(SpecChangeLevel.WARNING)} warning, ${count(SpecChangeLevel.INFO)} info)`;
}

/** A table of changes, one per line, with a summary line above it. */
export function diffReport(diff: GetDiffResponse): string {
  const head = `${diff.oldDeploymentId} → ${diff.newDeploymentId}: ${diffCounts(diff.changes)}\n`;
  if (diff.changes.length === 0) return head;
  return head + table(["LEVEL", "OPERATION", "CHANGE", "ID"], diff.changes.map((c) => [LEVEL_NAME[c.level], operation(c), c.message, c.id]));
}

export function operation(change: SpecChange): string {
  return [change.method, change.path].filter(Boolean).join(" ") || "-";
}

/**
 * The spec summary `deploy --wait` prints: the changes against the deployment it replaced (or its
 * environment's live one). A deployment without a spec, or without anything to compare with,
 * gets a one-line note instead — never an error of the deploy.
 */
export async function deploySpecSummary(client: Client<typeof OpenApiService>, deployment: Deployment): Promise<string> {
  const deploymentId = deployment.id;
  try {
    const diff = await client.getDiff({ newDeploymentId: deploymentId });
    const breaking = diff.changes.filter((c) => c.level === SpecChangeLevel.BREAKING);
    const lines = [`openapi: ${diffCounts(diff.changes)} against ${diff.oldDeploymentId}`, ...breaking.map((c) => `  breaking: ${operation(c)}: ${c.message} [${c.id}]`)];
    if (diff.changes.length > breaking.length) lines.push(`  details: switchyard openapi diff ${diff.oldDeploymentId} ${deploymentId}`);
    if (breaking.length > 0 && !deployment.isLive && deployment.environmentSlug === "production") {
      const { settings } = await client.getApiSettings({ projectId: deployment.projectId });
      if (settings?.breakingChanges === BreakingChangesPolicy.BLOCK) {
        lines.push(`not live: the project's breaking-changes policy is block; to go live: switchyard promote ${deploymentId} --allow-breaking-changes`);
      }
    }
    return `${lines.join("\n")}\n`;
  } catch (error) {
    const connectError = ConnectError.from(error);
    // The first deployment with a spec, or one without: a note, not an error of the deploy.
    if (connectError.code === Code.FailedPrecondition && connectError.rawMessage.startsWith("old_deployment_id:")) return "openapi: no earlier live deployment to compare with\n";
    if (connectError.code === Code.NotFound || connectError.code === Code.FailedPrecondition) return `openapi: ${connectError.rawMessage}\n`;
    throw error;
  }
}
