import { Command, type CommanderError } from "commander";
import { VERSION } from "../version.js";
import { serveCommand } from "./serve.js";
import { agentCommand } from "./agent.js";
import { gatewayCommand } from "./gateway.js";
import { migrateCommand } from "./migrate.js";
import { deployCommand } from "./deploy.js";
import { deploymentsCommand } from "./deployments.js";
import { domainsCommand } from "./domains.js";
import { keysCommand } from "./keys.js";
import { secretsCommand } from "./secrets.js";
import { workspacesCommand } from "./workspaces.js";
import { projectsCommand } from "./projects.js";
import { environmentsCommand } from "./environments.js";
import { promoteCommand, rollbackCommand } from "./liveChanges.js";
import { openapiCommand } from "./openapi.js";
import { EXIT } from "./output.js";

/** The `switchyard` command tree. Each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command("switchyard")
    .description("Durable control plane: deployments, routing, custom domains and certificates")
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText("after", "\nExit codes: 0 done, 1 failed or refused by the server, 2 usage error, 3 a --wait timed out.");
  program.addCommand(serveCommand());
  program.addCommand(migrateCommand());
  program.addCommand(agentCommand());
  program.addCommand(gatewayCommand());
  program.addCommand(workspacesCommand());
  program.addCommand(projectsCommand());
  program.addCommand(environmentsCommand());
  program.addCommand(deployCommand());
  program.addCommand(promoteCommand());
  program.addCommand(rollbackCommand());
  program.addCommand(deploymentsCommand());
  program.addCommand(openapiCommand());
  program.addCommand(domainsCommand());
  program.addCommand(keysCommand());
  program.addCommand(secretsCommand());
  exitWithUsageCode(program);
  return program;
}

/**
 * Commander exits 1 on a usage mistake (missing option or argument, unknown command or option);
 * ours is 2, as every --help says, so a pipeline can tell "called wrongly" from "refused".
 * Help and version still exit 0. Set on every command: addCommand() does not pass it down.
 */
function exitWithUsageCode(command: Command): void {
  command.exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage));
  for (const sub of command.commands) exitWithUsageCode(sub);
}
