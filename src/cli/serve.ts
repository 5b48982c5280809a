import { Command } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { startSwitchyard } from "../serve.js";

export function serveCommand(): Command {
  return new Command("serve")
    .description("run the Connect API and the Restate endpoint (configured by environment variables)")
    .action(async () => {
      const config = loadConfigOrExit();
      const logger = createLogger(config.logLevel);
      const running = await startSwitchyard(config, logger).catch((error: Error) => {
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
