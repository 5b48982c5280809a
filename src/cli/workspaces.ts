import { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { CreateWorkspaceResponseSchema, ListWorkspacesResponseSchema } from "../gen/ctrl/v1/deploy_pb.js";
import { deployClient } from "./client.js";
import { derivedIdempotencyKey } from "./idempotencyKey.js";
import { age, printJson, runCommand, table } from "./output.js";
import { listLimit, type CreateOptions, type ListOptions } from "./resourceOptions.js";

/** `switchyard workspaces create|list`. */
export function workspacesCommand(): Command {
  const command = new Command("workspaces").description("create and list your workspaces");
  command
    .command("create")
    .description("create a workspace (creating a slug you already own returns it)")
    .argument("<slug>", "globally unique, [a-z0-9-], appears in hostnames")
    .option("--name <name>", "display name (default: the slug)")
    .option("--json", "print the workspace as JSON")
    .option("-q, --quiet", "print only the workspace id")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((slug: string, options: CreateOptions & { name?: string }) =>
      runCommand(async () => {
        const response = await deployClient(options).createWorkspace({ slug, name: options.name ?? slug, idempotencyKey: derivedIdempotencyKey(["workspace", slug]) });
        const workspace = response.workspace!;
        if (options.json) return printJson(CreateWorkspaceResponseSchema, response);
        process.stdout.write(options.quiet ? `${workspace.id}\n` : `workspace ${workspace.id} (${workspace.slug})\n`);
      }),
    );
  command
    .command("list")
    .description("your workspaces, oldest first")
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((options: ListOptions) =>
      runCommand(async () => {
        const response = await deployClient(options).listWorkspaces({ pageSize: listLimit(options) });
        if (options.json) return printJson(ListWorkspacesResponseSchema, response);
        const rows = response.workspaces.map((w) => [w.id, w.slug, w.name, w.createTime ? age(timestampDate(w.createTime)) : ""]);
        process.stdout.write(table(["ID", "SLUG", "NAME", "AGE"], rows));
      }),
    );
  return command;
}
