import { trace } from "@opentelemetry/api";

/**
 * The trace and span id of the active span, for log lines (empty outside a span or with tracing
 * off). Only the API: a process that does not trace never loads the SDK (src/telemetry/tracing.ts).
 */
export function activeTraceFields(): { traceId?: string; spanId?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!traceFlags && traceId === "00000000000000000000000000000000") return {};
  return { traceId, spanId };
}
