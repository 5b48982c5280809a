import { pino, type Logger } from "pino";
import { activeTraceFields } from "./telemetry/activeTrace.js";

// One JSON logger for the process. Fields that could carry secrets are redacted at the source
// so no code path can log them by accident. A line written inside a span carries its trace and
// span id, so a log line leads to its trace and back.
export function createLogger(level: string, service = "switchyard"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: activeTraceFields,
    redact: { paths: ["authorization", "*.authorization", "token", "*.token", "privateKey", "*.privateKey"], censor: "[redacted]" },
  });
}

export type { Logger };
