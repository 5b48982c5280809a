import { createHash } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { invalidArgument } from "./errors.js";

/**
 * Opaque page tokens: the position after the last item (its sort key and id) and a digest of the
 * request's filters, base64url-encoded. A token used with other filters, or not made by us, is
 * refused with InvalidArgument naming `page_token`.
 */
export interface PagePosition {
  /** Sort key of the last item returned (ISO time or any string). */
  after: string;
  /** Id of the last item returned (tie-breaker). */
  id: string;
}

export function encodePageToken(position: PagePosition, filters: unknown): string {
  return Buffer.from(JSON.stringify({ a: position.after, i: position.id, f: digest(filters) })).toString("base64url");
}

export function decodePageToken(token: string, filters: unknown): PagePosition | undefined {
  if (token === "") return undefined;
  try {
    if (token.length > 512) throw new Error("too long");
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { a?: unknown; i?: unknown; f?: unknown };
    if (typeof parsed.a !== "string" || typeof parsed.i !== "string" || typeof parsed.f !== "string") throw new Error("shape");
    if (parsed.f !== digest(filters)) throw invalidArgument("page_token", "belongs to a request with other filters");
    return { after: parsed.a, id: parsed.i };
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw invalidArgument("page_token", "is not a page token returned by this API");
  }
}

function digest(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 16);
}
