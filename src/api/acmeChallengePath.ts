import type { IncomingMessage, ServerResponse } from "node:http";
import type { Kysely } from "kysely";
import { keyAuthorizationFor } from "../acme/challengeAnswers.js";
import type { Database } from "../db/schema.js";

const PREFIX = "/.well-known/acme-challenge/";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Serves `GET /.well-known/acme-challenge/<token>` (HTTP-01, RFC 8555 §8.3) in front of the
 * Connect routes: the CA fetches it without credentials, so it answers only a pending
 * challenge's key authorization for the requested Host, and 404 for anything else. A request
 * without a Host (HTTP/1.0) gets 400: every CA names the host it validates, and without one the
 * token alone would find another hostname's challenge.
 */
export function withAcmeChallengePath(db: Kysely<Database>, next: Handler): Handler {
  return (req, res) => {
    const path = req.url ?? "";
    if (!path.startsWith(PREFIX) || (req.method !== "GET" && req.method !== "HEAD")) return next(req, res);
    const token = path.slice(PREFIX.length).split("?")[0]!;
    const host = (req.headers.host ?? (req.headers as Record<string, string | undefined>)[":authority"] ?? "").toString().trim();
    if (host === "") {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("a Host header is required\n");
      return;
    }
    keyAuthorizationFor(db, token, host).then(
      (answer) => {
        res.writeHead(answer ? 200 : 404, { "content-type": "text/plain", "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : (answer ?? "not found\n"));
      },
      () => {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("temporarily unavailable\n");
      },
    );
  };
}
