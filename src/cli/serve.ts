import { Command } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { VERSION } from "../version.js";

export function serveCommand(): Command {
  return new Command("serve")
    .description("run the Connect API and the Restate endpoint (configured by environment variables)")
    .action(async () => {
      const config = loadConfigOrExit();
      const logger = createLogger(config.logLevel);
      // First line as soon as the command runs: a log without it points at the process start
      // (Node, tsx, the command tree), not at serve.
      logger.info({ pid: process.pid, version: VERSION }, "starting");
      // Loaded here, not at the top: the pipeline commands beside it start without the server's code.
      const { startSwitchyard } = await import("../serve.js");
      const running = await startSwitchyard(config, logger).catch((error: Error) => {
        if (error instanceof ConfigError) {
          process.stderr.write(`switchyard: ${error.message}\n`);
          process.exit(2);
        }
        logger.fatal({ err: error }, "could not start");
        process.exit(1);
      });
      const shutdown = async (signal: string) => {
        logger.info({ signal }, "shutting down");
        await running.close();
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
    });
}

/** Prints every configuration problem, one per line, and exits 2. */
export function loadConfigOrExit() {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
