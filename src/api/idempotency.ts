import type { HandlerContext } from "@connectrpc/connect";
import { principalOf } from "./auth.js";
import { invalidArgument } from "./errors.js";

/** Idempotency keys are scoped to the tenant and the RPC, so two tenants can never collide. */
export function scopedKey(context: HandlerContext, rpc: string, key: string): string | undefined {
  if (key === "") return undefined;
  if (key.length > 128 || !/^[\x21-\x7e]+$/.test(key)) throw invalidArgument("idempotency_key", "must be 1-128 printable ASCII characters");
  return `${principalOf(context).tenantId}/${rpc}/${key}`;
}
