import { SpanKind, type Attributes, type Context, type Link } from "@opentelemetry/api";
import { ParentBasedSampler, SamplingDecision, type Sampler, type SamplingResult } from "@opentelemetry/sdk-trace-node";

// Which traces are recorded when no OTEL_TRACES_SAMPLER says otherwise: those that start where
// work enters the process — an RPC's server span, a Restate invocation attempt — and everything
// under them (parent-based). A query or an HTTP call without a parent is background work (the
// feed tailer polls every 25 ms, the webhook pumps look for events): recording each as a trace
// of its own would cost more than the requests being traced, and say nothing.

class EntryPointSampler implements Sampler {
  shouldSample(_context: Context, _traceId: string, name: string, kind: SpanKind, _attributes: Attributes, _links: Link[]): SamplingResult {
    const entry = kind === SpanKind.SERVER || name.startsWith("attempt ");
    return { decision: entry ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return "EntryPointSampler";
  }
}

export function entryPointSampler(): Sampler {
  return new ParentBasedSampler({ root: new EntryPointSampler() });
}
