/**
 * The developer's RESTATE_TRACING_* settings (endpoint, runtime/services endpoints, JSON path,
 * filter, headers), which the dev stack passes to its restate-server while it drops every other
 * RESTATE_* variable. restate-server traces — and so propagates `traceparent` into the
 * invocations it runs — only when one of them names where its spans go.
 */
export function restateTracingEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[0].startsWith("RESTATE_TRACING_") && entry[1] !== undefined));
}
