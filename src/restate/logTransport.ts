import type { LoggerTransport } from "@restatedev/restate-sdk";
import type { Logger } from "../log.js";

/**
 * Sends the Restate SDK's log lines (invocation started/completed, retries, suspensions and the
 * handlers' ctx.console) through our pino logger, as JSON with the invocation's identity, instead
 * of the SDK's own console format. Lines emitted while replaying a journal are dropped: they
 * were logged the first time the step ran. The SDK's own lifecycle lines ("Invocation completed
 * successfully") go to debug: at info they would double the log of every RPC.
 */
export function restateLogTransport(logger: Logger): LoggerTransport {
  const restateLogger = logger.child({ component: "restate-sdk" });
  return (meta, message, ...rest) => {
    if (meta.replaying) return;
    const context = meta.context;
    const fields = context
      ? { invocationId: context.invocationId, service: context.serviceName, handler: context.handlerName, key: context.key }
      : {};
    const errors = rest.filter((value): value is Error => value instanceof Error);
    const text = [message, ...rest.filter((value) => !(value instanceof Error))].map(String).join(" ");
    const level = meta.source === "SYSTEM" && meta.level === "info" ? "debug" : meta.level;
    restateLogger[level]({ ...fields, source: meta.source, ...(errors[0] ? { err: errors[0] } : {}) }, text);
  };
}
