import { createHmac, timingSafeEqual } from "node:crypto";

// How a webhook receiver knows a delivery is ours and fresh: the body and its timestamp are
// signed with the endpoint's secret (HMAC-SHA256), and the receiver rejects old timestamps.
//
//   Switchyard-Timestamp: 1700000000            (Unix seconds)
//   Switchyard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

export const SIGNATURE_HEADER = "switchyard-signature";
export const TIMESTAMP_HEADER = "switchyard-timestamp";
export const EVENT_ID_HEADER = "switchyard-event-id";
export const EVENT_TYPE_HEADER = "switchyard-event-type";

export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** What a receiver runs: true when `signature` signs `body` at `timestamp` with `secret`, within `toleranceSeconds` of now. */
export function verifySignature(opts: { secret: string; timestamp: number; body: string; signature: string; toleranceSeconds?: number; now?: number }): boolean {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(opts.timestamp) || Math.abs(now - opts.timestamp) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signatureOf(opts.secret, opts.timestamp, opts.body));
  const given = Buffer.from(opts.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
