import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";

/** base64url, as ACME tokens are (RFC 8555 §8.1). */
export const ACME_TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * The key authorization to serve for an HTTP-01 token: from MySQL, so any replica answers the
 * CA. Only pending challenges answer; `hostname`, when given, must be the challenge's (the
 * HTTP-01 path always gives it; VerifyCertificate may not, and is scoped to the caller's tenant).
 */
export async function keyAuthorizationFor(db: Kysely<Database>, token: string, hostname?: string): Promise<string | undefined> {
  if (!ACME_TOKEN.test(token)) return undefined;
  let query = db.selectFrom("acme_challenges").select("key_authorization").where("token", "=", token).where("type", "=", "http-01").where("status", "=", "pending");
  if (hostname) query = query.where("hostname", "=", hostname.toLowerCase().replace(/:\d+$/, ""));
  return (await query.executeTakeFirst())?.key_authorization;
}
