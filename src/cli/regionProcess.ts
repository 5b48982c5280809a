import type { Logger } from "pino";
import { StateDirInUseError } from "../cluster/client/stateDirLock.js";
import { ConfigError } from "../config.js";
import { createLogger } from "../log.js";

/**
 * The life of a long-running region process (`switchyard agent`, `switchyard gateway`): its
 * settings checked first (exit 2, one line per problem), started (exit 1 when it cannot), and
 * stopped cleanly on SIGTERM or SIGINT (exit 0; a second signal exits at once with 130).
 */
export async function runRegionProcess<C extends { logLevel: string; region: string }>(
  kind: "agent" | "gateway",
  settings: () => C,
  start: (config: C, log: Logger) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  let config: C;
  try {
    config = settings();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`switchyard ${kind}: ${error.message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel).child({ component: kind, region: config.region });
  const running = await start(config, log).catch((error: Error) => {
    if (error instanceof StateDirInUseError) process.stderr.write(`switchyard ${kind}: ${error.message}\n`);
    else log.fatal({ err: error }, "could not start");
    process.exit(1);
  });
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    log.info({ signal }, "shutting down");
    void running.stop().then(() => process.exit(0));
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, shutdown);
}
