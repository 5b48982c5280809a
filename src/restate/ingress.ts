import * as clients from "@restatedev/restate-sdk-clients";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeOfRuleStatus } from "../domain/ruleCodes.js";

/** The Restate ingress, as the API uses it to start workflows and call objects. */
export type Ingress = clients.Ingress;

export function connectIngress(url: string): Ingress {
  return clients.connect({ url });
}

/** One-way send options with an idempotency key (a retried send starts nothing twice), optionally delayed. */
export function idempotentSend<I>(key: string, delayMs = 0) {
  return clients.rpc.sendOpts<I>({ idempotencyKey: key, ...(delayMs > 0 ? { delay: delayMs } : {}) });
}

/** Request options carrying the caller's idempotency key, when it gave one. */
export function idempotent<I, O>(key: string | undefined) {
  return clients.rpc.opts<I, O>(key ? { idempotencyKey: key } : {});
}

/**
 * Maps a failed ingress call to a ConnectError. Terminal errors of our handlers carry an HTTP
 * status chosen on purpose (src/domain/ruleCodes.ts) and a message meant for the caller; anything
 * other answer or an unreachable ingress is an infrastructure failure and becomes Unavailable
 * without detail. Anything else is a bug of ours and stays an (opaque, logged) internal error.
 */
export function fromIngressError(error: unknown): unknown {
  if (error instanceof ConnectError) return error;
  const status = (error as { status?: unknown }).status;
  if (typeof status === "number") {
    const code = codeOfRuleStatus(status);
    if (code !== undefined) return new ConnectError(terminalMessage(error), code);
    // The invocation itself ended with a retryable error after its last attempt (the bounded
    // retry policy, workflows/handlerOptions.ts): a failure of ours, not of the engine. Its
    // detail (possibly SQL, a stack) stays in the Restate UI.
    if (status === 500 && sourceOf(error) === "invocation") {
      return new ConnectError("the operation failed on every attempt and was stopped; operators see why in the Restate UI", Code.Internal);
    }
    return unavailable();
  }
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return unavailable();
  return error;
}

function unavailable() {
  return new ConnectError("the workflow engine is unavailable; retry with the same idempotency key", Code.Unavailable);
}

function sourceOf(error: unknown): string | undefined {
  try {
    return (JSON.parse((error as { responseText?: string }).responseText ?? "") as { source?: string }).source;
  } catch {
    return undefined;
  }
}

function terminalMessage(error: unknown): string {
  const text = (error as { responseText?: string }).responseText;
  if (text) {
    try {
      const parsed = JSON.parse(text) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      // not JSON: fall through to the error's own message
    }
  }
  return (error as Error).message;
}

/** Runs one ingress call and turns its failure into the ConnectError the caller should see. */
export async function viaIngress<T>(call: () => PromiseLike<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromIngressError(error);
  }
}
