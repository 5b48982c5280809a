import { Command } from "commander";
import { VERSION } from "../version.js";
import { serveCommand } from "./serve.js";
import { migrateCommand } from "./migrate.js";

/** The `switchyard` command tree. Each subcommand lives in its own file. */
export function buildProgram(): Command {
  const program = new Command("switchyard")
    .description("Durable control plane: deployments, routing, custom domains and certificates")
    .version(VERSION)
    .showHelpAfterError();
  program.addCommand(serveCommand());
  program.addCommand(migrateCommand());
  return program;
}
