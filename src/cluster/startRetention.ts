import type { Logger } from "../log.js";
import type { Ingress } from "../restate/ingress.js";
import { RETENTION_KEY, retentionApi } from "../../workflows/handles.js";

/**
 * Makes sure the retention schedule runs (workflows/retention.ts). Every replica calls this at
 * start; the object's exclusive `start` turns any number of calls into one schedule. Not fatal:
 * a replica that cannot reach the ingress now leaves it to the next start.
 */
export async function startRetention(ingress: Ingress, logger: Logger): Promise<void> {
  try {
    const result = await ingress.objectClient(retentionApi, RETENTION_KEY).start({});
    logger.info(result, result.scheduled ? "retention schedule started" : "retention schedule already running");
  } catch (error) {
    logger.warn({ problem: (error as Error).message }, "could not start the retention schedule; the next start of switchyard serve tries again");
  }
}
