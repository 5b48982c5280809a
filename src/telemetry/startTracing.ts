import { VERSION } from "../version.js";
import { tracingConfigured } from "./tracingConfigured.js";

// Imported by src/main.ts before anything that loads mysql2 or undici: the long-running commands
// (serve, gateway) trace when OTEL_EXPORTER_OTLP_ENDPOINT is set; the CLI's one-shot commands
// never do. The SDK loads only then, so every other command starts without it.
const TRACED_COMMANDS: Record<string, string> = { serve: "switchyard", gateway: "switchyard-gateway" };

const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
const serviceName = command ? TRACED_COMMANDS[command] : undefined;
if (serviceName && tracingConfigured()) {
  const { startTracing } = await import("./tracing.js");
  startTracing(serviceName, VERSION);
}
