import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { AgentToken, TenantToken } from "../config.js";

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

/** A region agent or gateway: may call the agent-facing ClusterService RPCs for `region`, across tenants. */
export interface AgentPrincipal {
  region: string;
}

export const agentKey = createContextKey<AgentPrincipal | undefined>(undefined, { description: "authenticated region agent" });

/** The agent calling the current RPC, or undefined for a tenant (src/api/agentAccess.ts decides who may call what). */
export function agentOf(context: HandlerContext): AgentPrincipal | undefined {
  return context.values.get(agentKey);
}

// Tokens are compared through their SHA-256 digests: equal lengths for timingSafeEqual, and
// the comparison time does not depend on where a guess first differs.
const digest = (value: string) => createHash("sha256").update(value).digest();

/** Who each configured token stands for, looked up by checking every entry so timing reveals nothing. */
class ConstantTimeTokens<T> {
  private readonly entries: { digest: Buffer; holder: T }[];

  constructor(entries: [token: string, holder: T][]) {
    this.entries = entries.map(([token, holder]) => ({ digest: digest(token), holder }));
  }

  /** Who `token` stands for, or undefined. */
  verify(token: string): T | undefined {
    const candidate = digest(token);
    let match: T | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate)) match = entry.holder;
    }
    return match;
  }
}

/** Tenant tokens (SWITCHYARD_API_TOKENS) → the tenant. */
export class TokenVerifier extends ConstantTimeTokens<Principal> {
  constructor(tokens: TenantToken[]) {
    super(tokens.map(({ token, tenantId }) => [token, { tenantId }]));
  }
}

/** Region credentials (SWITCHYARD_AGENT_TOKENS) → the region. */
export class AgentTokenVerifier extends ConstantTimeTokens<AgentPrincipal> {
  constructor(tokens: AgentToken[]) {
    super(tokens.map(({ token, region }) => [token, { region }]));
  }
}

/** Who a bearer token proves: a tenant, or a region agent (src/api/agentAccess.ts decides what each may call). */
export interface Caller {
  principal?: Principal;
  agent?: AgentPrincipal;
}

/** The caller an `Authorization` header proves, or Unauthenticated (both tables are always checked). Also checked before a body is decoded (requestGate.ts). */
export function authenticate(verifier: TokenVerifier, agents: AgentTokenVerifier, authorization: string | null): Caller {
  const match = /^Bearer\s+(\S+)$/i.exec((authorization ?? "").trim());
  if (!match) {
    throw new ConnectError("missing bearer token: send 'Authorization: Bearer <token>'", Code.Unauthenticated);
  }
  const principal = verifier.verify(match[1]!);
  const agent = agents.verify(match[1]!);
  if (!principal && !agent) throw new ConnectError("invalid bearer token", Code.Unauthenticated);
  return { principal, agent };
}

/** Rejects every RPC without a valid `Authorization: Bearer <token>` header. */
export function authInterceptor(verifier: TokenVerifier, agents: AgentTokenVerifier = new AgentTokenVerifier([])): Interceptor {
  return (next) => async (req) => {
    const { principal, agent } = authenticate(verifier, agents, req.header.get("authorization"));
    if (principal) req.contextValues.set(principalKey, principal);
    if (agent) req.contextValues.set(agentKey, agent);
    return next(req);
  };
}
