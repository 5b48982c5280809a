import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { judgeAddress, parseIpLiteral, type AddressRanges } from "../domain/addressRanges.js";

// Outbound HTTP on a tenant's behalf (webhook deliveries; later, spec scraping). The target's
// address is judged when the connection is made: an IP literal before connecting, a name through
// the socket's own `lookup`, so the address judged is the address connected to — no DNS answer
// can change between the check and the connection (DNS rebinding). Public unicast addresses
// pass; anything else only inside the operator's SWITCHYARD_OUTBOUND_ALLOWED_RANGES.

/** The target's address is not one this platform connects to on a tenant's behalf. */
export class TargetRefusedError extends Error {
  override name = "TargetRefusedError";
}

export interface GuardedRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  allowedRanges: AddressRanges;
  /** Response bytes kept; the rest is discarded. Default 64 KiB. */
  maxResponseBytes?: number;
}

export interface GuardedResponse {
  status: number;
  body: Buffer;
}

// Deliberately vague: naming the address or its kind would tell a tenant what internal names resolve to.
const REFUSED = "the target resolves to an address this platform does not connect to (not a public address)";

/** One HTTP(S) request whose every connection goes only to allowed addresses; no redirects are followed. */
export function guardedRequest(url: string, request: GuardedRequest): Promise<GuardedResponse> {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") return Promise.reject(new TargetRefusedError(`${target.protocol} is not http or https`));
  const literal = parseIpLiteral(target.hostname);
  if (literal && !judgeAddress(literal.toString(), request.allowedRanges).allowed) return Promise.reject(new TargetRefusedError(REFUSED));
  const lookup = guardedLookup(request.allowedRanges);
  const limit = request.maxResponseBytes ?? 64 * 1024;

  return new Promise((resolve, reject) => {
    const send = target.protocol === "https:" ? https.request : http.request;
    const req = send(
      {
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[|\]$/g, ""),
        port: target.port || undefined,
        path: `${target.pathname}${target.search}`,
        method: request.method,
        headers: request.body === undefined ? request.headers : { "content-length": String(Buffer.byteLength(request.body)), ...request.headers },
        lookup,
        // A fresh connection per request: a pooled socket would skip the address check.
        agent: false,
        signal: AbortSignal.timeout(request.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on("data", (chunk: Buffer) => {
          if (kept < limit) chunks.push(chunk.subarray(0, limit - kept));
          kept += chunk.length;
          if (kept >= limit) res.destroy();
        });
        const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        res.on("end", done);
        res.on("close", done);
        res.on("error", done);
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
}

/** A `lookup` for net.connect that resolves the name and refuses it if any address is not allowed. */
function guardedLookup(ranges: AddressRanges): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      if (addresses.length === 0 || addresses.some((a) => !judgeAddress(a.address, ranges).allowed)) {
        return callback(new TargetRefusedError(REFUSED), "", 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
