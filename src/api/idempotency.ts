import type { HandlerContext, Interceptor } from "@connectrpc/connect";
import { principalOf } from "./auth.js";
import { invalidArgument } from "./errors.js";

/** 1-128 printable ASCII characters (resources.proto); "" means none. The one rule for every RPC. */
export function idempotencyKeyField(key: string): string {
  if (key.length > 128 || !/^[\x21-\x7e]*$/.test(key)) throw invalidArgument("idempotency_key", "must be 1-128 printable ASCII characters");
  return key;
}

/** Idempotency keys are scoped to the tenant and the RPC, so two tenants can never collide. */
export function scopedKey(context: HandlerContext, rpc: string, key: string): string | undefined {
  if (idempotencyKeyField(key) === "") return undefined;
  return `${principalOf(context).tenantId}/${rpc}/${key}`;
}

/**
 * Checks the `idempotency_key` of every request that has one, before its handler runs — also for
 * RPCs whose handler never looks at it (a create that answers AlreadyExists on a retry).
 */
export function idempotencyKeyInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      const key = (req.message as { idempotencyKey?: unknown }).idempotencyKey;
      if (typeof key === "string") idempotencyKeyField(key);
    }
    return next(req);
  };
}
