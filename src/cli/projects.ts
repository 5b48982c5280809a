import { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { CreateProjectResponseSchema, ListProjectsResponseSchema } from "../gen/ctrl/v1/deploy_pb.js";
import { deployClient } from "./client.js";
import { derivedIdempotencyKey } from "./idempotencyKey.js";
import { age, printJson, runCommand, table } from "./output.js";
import { listLimit, type CreateOptions, type ListOptions } from "./resourceOptions.js";

/** `switchyard projects create|list`. */
export function projectsCommand(): Command {
  const command = new Command("projects").description("create and list the projects of a workspace");
  command
    .command("create")
    .description("create a project with its production environment (creating a slug the workspace has returns it)")
    .argument("<slug>", "unique in the workspace, [a-z0-9-], appears in hostnames")
    .requiredOption("--workspace <id>", "workspace id")
    .option("--name <name>", "display name (default: the slug)")
    .option("--json", "print the project and its environments as JSON")
    .option("-q, --quiet", "print only the project id")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((slug: string, options: CreateOptions & { workspace: string; name?: string }) =>
      runCommand(async () => {
        const response = await deployClient(options).createProject({
          workspaceId: options.workspace,
          slug,
          name: options.name ?? slug,
          idempotencyKey: derivedIdempotencyKey(["project", options.workspace, slug]),
        });
        if (options.json) return printJson(CreateProjectResponseSchema, response);
        const project = response.project!;
        process.stdout.write(options.quiet ? `${project.id}\n` : `project ${project.id} (${project.slug}), environments: ${response.environments.map((e) => e.slug).join(", ")}\n`);
      }),
    );
  command
    .command("list")
    .description("the projects of a workspace, oldest first")
    .requiredOption("--workspace <id>", "workspace id")
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((options: ListOptions & { workspace: string }) =>
      runCommand(async () => {
        const response = await deployClient(options).listProjects({ workspaceId: options.workspace, pageSize: listLimit(options) });
        if (options.json) return printJson(ListProjectsResponseSchema, response);
        const rows = response.projects.map((p) => [p.id, p.slug, p.liveDeploymentId, p.isRolledBack ? "yes" : "", p.createTime ? age(timestampDate(p.createTime)) : ""]);
        process.stdout.write(table(["ID", "SLUG", "LIVE", "ROLLED BACK", "AGE"], rows));
      }),
    );
  return command;
}
