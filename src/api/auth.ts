import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { TenantToken } from "../config.js";

/** The authenticated caller of an RPC. Every resource lookup is scoped by `tenantId`. */
export interface Principal {
  tenantId: string;
}

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated principal" });

/** The principal of the current RPC; the auth interceptor guarantees it is set. */
export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  if (!principal) throw new ConnectError("missing credentials", Code.Unauthenticated);
  return principal;
}

// Tokens are compared through their SHA-256 digests: equal lengths for timingSafeEqual, and
// the comparison time does not depend on where a guess first differs.
const digest = (value: string) => createHash("sha256").update(value).digest();

export class TokenVerifier {
  private readonly tokens: { digest: Buffer; tenantId: string }[];

  constructor(tokens: TenantToken[]) {
    this.tokens = tokens.map(({ token, tenantId }) => ({ digest: digest(token), tenantId }));
  }

  /** Returns the tenant of the token, checking every configured token so timing reveals nothing. */
  verify(token: string): Principal | undefined {
    const candidate = digest(token);
    let match: Principal | undefined;
    for (const entry of this.tokens) {
      if (timingSafeEqual(entry.digest, candidate)) match = { tenantId: entry.tenantId };
    }
    return match;
  }
}

/** Rejects every RPC without a valid `Authorization: Bearer <token>` header. */
export function authInterceptor(verifier: TokenVerifier): Interceptor {
  return (next) => async (req) => {
    const header = req.header.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) {
      throw new ConnectError("missing bearer token: send 'Authorization: Bearer <token>'", Code.Unauthenticated);
    }
    const principal = verifier.verify(match[1]!);
    if (!principal) throw new ConnectError("invalid bearer token", Code.Unauthenticated);
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
