import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { MySQL2Instrumentation } from "@opentelemetry/instrumentation-mysql2";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { entryPointSampler } from "./entrySampler.js";
import { tracingConfigured } from "./tracingConfigured.js";

// OpenTelemetry tracing, configured by the standard OTEL_* variables: on when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, exporting OTLP/HTTP
// in batches; off otherwise, and then every tracer is OpenTelemetry's no-op one.
//
// What produces spans: the Connect interceptor (src/api/rpcSpan.ts: one server span per RPC —
// node:http2 is not auto-instrumented), the Restate SDK hook (workflows/handlerOptions.ts: one span
// per invocation attempt and per ctx.run), mysql2 (one span per query) and undici (Node's fetch:
// the calls to restate-server's ingress, which carry `traceparent`, so restate-server continues
// the trace into the invocation it starts).

let provider: NodeTracerProvider | undefined;

/**
 * Registers the tracer provider and the instrumentations. Must run before mysql2 is loaded
 * (instrumentations patch modules as they are required): src/main.ts imports
 * src/telemetry/startTracing.ts before anything else.
 */
export function startTracing(serviceName: string, serviceVersion: string): void {
  if (provider || !tracingConfigured()) return;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME || serviceName, "service.version": serviceVersion }),
    // OTEL_TRACES_SAMPLER, when set, is the SDK's to read; else only traces that start at an RPC
    // or a workflow attempt are recorded (src/telemetry/entrySampler.ts).
    ...(process.env.OTEL_TRACES_SAMPLER ? {} : { sampler: entryPointSampler() }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [new MySQL2Instrumentation(), new UndiciInstrumentation()],
  });
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** Sends the spans still buffered (on shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush().catch(() => undefined);
}

export async function stopTracing(): Promise<void> {
  await provider?.shutdown().catch(() => undefined);
}
