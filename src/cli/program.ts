import { Command } from "commander";
import { VERSION } from "../version.js";
import { serveCommand } from "./serve.js";
import { migrateCommand } from "./migrate.js";
import { deployCommand } from "./deploy.js";
import { deploymentsCommand } from "./deployments.js";
import { domainsCommand } from "./domains.js";
import { keysCommand } from "./keys.js";
import { promoteCommand, rollbackCommand } from "./liveChanges.js";

/** The `switchyard` command tree. Each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command("switchyard")
    .description("Durable control plane: deployments, routing, custom domains and certificates")
    .version(VERSION)
    .showHelpAfterError();
  program.addCommand(serveCommand());
  program.addCommand(migrateCommand());
  program.addCommand(deployCommand());
  program.addCommand(promoteCommand());
  program.addCommand(rollbackCommand());
  program.addCommand(deploymentsCommand());
  program.addCommand(domainsCommand());
  program.addCommand(keysCommand());
  return program;
}
