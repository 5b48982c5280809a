import { pino, type Logger } from "pino";

// One JSON logger for the process. Fields that could carry secrets are redacted at the source
// so no code path can log them by accident.
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "switchyard" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["authorization", "*.authorization", "token", "*.token", "privateKey", "*.privateKey"], censor: "[redacted]" },
  });
}

export type { Logger };
