import type { OutboxEvent } from "../db/events.js";
import type { AddressRanges } from "../domain/addressRanges.js";
import { guardedRequest, TargetRefusedError } from "../net/guardedFetch.js";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureOf, TIMESTAMP_HEADER } from "./signature.js";

export interface AttemptResult {
  ok: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why the attempt failed (no answer, or a non-2xx answer). */
  error?: string;
}

/** The JSON body of a delivery: the event as WatchEvents shows it. */
export function deliveryBody(event: OutboxEvent): string {
  return JSON.stringify({
    id: String(event.id),
    type: event.type,
    workspaceId: event.workspaceId,
    subject: event.subject,
    data: event.payload ?? {},
    createTime: event.createdAt.toISOString(),
  });
}

/**
 * One signed POST of an event; 2xx within `timeoutMs` is a success, anything else a failed
 * attempt. The target's address is checked at connect time (src/net/guardedFetch.ts).
 */
export async function postEvent(url: string, secret: string, event: OutboxEvent, opts: { timeoutMs: number; allowedRanges: AddressRanges }): Promise<AttemptResult> {
  const { timeoutMs } = opts;
  const body = deliveryBody(event);
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await guardedRequest(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "switchyard-webhooks",
        [EVENT_ID_HEADER]: String(event.id),
        [EVENT_TYPE_HEADER]: event.type,
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signatureOf(secret, timestamp, body),
      },
      body,
      timeoutMs,
      allowedRanges: opts.allowedRanges,
      maxResponseBytes: 1024,
    });
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    return { ok: false, status: response.status, error: `the endpoint answered HTTP ${response.status}` };
  } catch (error) {
    if (error instanceof TargetRefusedError) return { ok: false, error: `refused: ${error.message}` };
    const code = (error as { code?: string }).code;
    const timedOut = (error as Error).name === "TimeoutError" || (error as Error).name === "AbortError";
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : code ? `could not connect (${code})` : (error as Error).message;
    return { ok: false, error: reason };
  }
}
