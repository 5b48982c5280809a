import * as restate from "@restatedev/restate-sdk";
import { trace } from "@opentelemetry/api";
import { openTelemetryHook } from "@restatedev/restate-sdk-opentelemetry";
import { z } from "zod";
import type { Config } from "../src/config.js";
import { tracingEnabled } from "../src/telemetry/tracing.js";

// What every Restate handler of this endpoint is registered with (the no-poison and
// private-internals invariants, docs/architecture.md):
//
// - an input schema: a malformed input fails the invocation with a terminal 400 before the
//   handler runs, so no bad input can turn into a retryable TypeError that Restate retries
//   forever while holding an object's lock;
// - `ingressPrivate` on every handler the Connect API does not call: restate-server refuses it
//   through its ingress, other handlers still call it;
// - a bounded retry policy per service: a failure that no retry heals ends visibly — killed for
//   the Project object, whose lock every routing change of the project waits for; paused
//   (resumable from the Restate UI once the cause is fixed) for the others, whose schedules must
//   not be lost;
// - with tracing on, the Restate SDK's OpenTelemetry hook: a span per invocation attempt (child of
//   the traceparent restate-server sends, so a promote's RPC, invocation and steps are one trace)
//   and one per ctx.run.

/** Input validated by `schema` before the handler runs; a mismatch is a terminal 400 naming the field. */
export function input<T extends z.ZodType>(schema: T) {
  return restate.serde.schema(schema);
}

/** A handler only other handlers call: invisible to the ingress. */
export const INTERNAL = { ingressPrivate: true } as const;

export type OnMaxAttempts = "kill" | "pause";

/** Service options: the retry policy of the configuration, ending as `onMaxAttempts` says. */
export function serviceOptions(config: Config, onMaxAttempts: OnMaxAttempts) {
  const { maxAttempts, initialIntervalMs, maxIntervalMs } = config.restateRetry;
  return {
    retryPolicy: { maxAttempts, onMaxAttempts, initialInterval: initialIntervalMs, maxInterval: maxIntervalMs, exponentiationFactor: 2 },
    // Completed invocations stay visible in the Restate UI for an hour, with their outcome.
    journalRetention: 3_600_000,
    ...(tracingEnabled() ? { hooks: [openTelemetryHook({ tracer: trace.getTracer("switchyard-workflows") })] } : {}),
  };
}

// Field shapes shared by the handlers' schemas. They check shape only; the rules (ownership,
// state) are checked by the transactions.
export const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an id");
export const hostname = z.string().min(1).max(255);
export const hostnames = z.array(hostname).max(1000);
export const token = z.string().min(1).max(128);
