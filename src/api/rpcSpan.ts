import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from "@opentelemetry/api";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

// One OpenTelemetry server span per RPC (node:http2 is not auto-instrumented, and Connect's
// handler sees both protocols on one port). The caller's `traceparent` is its parent; everything
// the RPC does — queries, the ingress call that starts a workflow, the request log line — runs
// inside it. With tracing off the tracer is the no-op one.

const tracer = trace.getTracer("switchyard-api");

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/** Connect codes that are the server's fault (OpenTelemetry's rule for gRPC server spans). */
const SERVER_FAULTS = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

export function rpcSpanInterceptor(): Interceptor {
  return (next) => async (req) => {
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    try {
      const res = await context.with(active, () => next(req));
      if (!res.stream) {
        endSpan(span);
        return res;
      }
      return { ...res, message: endWhenDrained(res.message, span) };
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  };
}

async function* endWhenDrained<T>(messages: AsyncIterable<T>, span: Span): AsyncIterable<T> {
  let failure: unknown;
  try {
    yield* messages;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    endSpan(span, failure);
  }
}

function endSpan(span: Span, error?: unknown): void {
  const code = error === undefined ? undefined : ConnectError.from(error).code;
  span.setAttribute("rpc.grpc.status_code", code ?? 0);
  if (code !== undefined && SERVER_FAULTS.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: Code[code] });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}
