import { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { CreateEnvironmentResponseSchema, ListEnvironmentsResponseSchema } from "../gen/ctrl/v1/deploy_pb.js";
import { deployClient } from "./client.js";
import { derivedIdempotencyKey } from "./idempotencyKey.js";
import { age, printJson, runCommand, table } from "./output.js";
import { listLimit, type CreateOptions, type ListOptions } from "./resourceOptions.js";

/** `switchyard environments create|list`. */
export function environmentsCommand(): Command {
  const command = new Command("environments").description("create and list the environments of a project");
  command
    .command("create")
    .description("add an environment (e.g. staging) to a project (creating a slug the project has returns it)")
    .argument("<slug>", "unique in the project, [a-z0-9-]")
    .requiredOption("--project <id>", "project id")
    .option("--json", "print the environment as JSON")
    .option("-q, --quiet", "print only the environment id")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((slug: string, options: CreateOptions & { project: string }) =>
      runCommand(async () => {
        const response = await deployClient(options).createEnvironment({ projectId: options.project, slug, idempotencyKey: derivedIdempotencyKey(["environment", options.project, slug]) });
        if (options.json) return printJson(CreateEnvironmentResponseSchema, response);
        const environment = response.environment!;
        process.stdout.write(options.quiet ? `${environment.id}\n` : `environment ${environment.id} (${environment.slug})\n`);
      }),
    );
  command
    .command("list")
    .description("the environments of a project, oldest first")
    .requiredOption("--project <id>", "project id")
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((options: ListOptions & { project: string }) =>
      runCommand(async () => {
        const response = await deployClient(options).listEnvironments({ projectId: options.project, pageSize: listLimit(options) });
        if (options.json) return printJson(ListEnvironmentsResponseSchema, response);
        const rows = response.environments.map((e) => [e.id, e.slug, e.createTime ? age(timestampDate(e.createTime)) : ""]);
        process.stdout.write(table(["ID", "SLUG", "AGE"], rows));
      }),
    );
  return command;
}
