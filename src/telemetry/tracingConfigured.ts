/**
 * Whether the standard OTEL_* variables ask for traces: OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, and neither OTEL_SDK_DISABLED nor
 * OTEL_TRACES_EXPORTER=none. Apart from the SDK, so the answer costs nothing to load.
 */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true") return false;
  if ((env.OTEL_TRACES_EXPORTER ?? "").toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}
