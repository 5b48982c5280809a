import type * as acme from "acme-client";
import { retryAfterMs } from "./caProblems.js";

// Polling an authorization or an order (RFC 8555 §7.5.1 and §7.4): one request per journaled
// step, the wait between them a durable sleep that is never shorter than the CA's Retry-After.

/** The part of acme-client's API object that returns whole responses (headers included). */
interface AcmeApiCalls {
  getAuthorization(url: string): Promise<{ data: unknown; headers: Record<string, unknown> }>;
  getOrder(url: string): Promise<{ data: unknown; headers: Record<string, unknown> }>;
}

export interface PollResult<T> {
  status: string;
  /** The CA's Retry-After, when it sent one. */
  retryAfterMs?: number;
  /** Why it is invalid, from the CA's problem documents. */
  detail?: string;
  body: T;
}

function api(client: acme.Client): AcmeApiCalls {
  return (client as unknown as { api: AcmeApiCalls }).api;
}

export async function pollAuthorization(client: acme.Client, url: string): Promise<PollResult<acme.Authorization>> {
  const response = await api(client).getAuthorization(url);
  const body = response.data as acme.Authorization;
  const problems = body.challenges.flatMap((c) => (c.status === "invalid" && (c as { error?: { detail?: string } }).error?.detail ? [(c as { error: { detail: string } }).error.detail] : []));
  return { status: body.status, retryAfterMs: retryAfterMs(response.headers["retry-after"]), detail: problems.join("; ") || undefined, body };
}

export async function pollOrder(client: acme.Client, url: string): Promise<PollResult<acme.Order>> {
  const response = await api(client).getOrder(url);
  const body = { ...(response.data as acme.Order), url };
  const error = (body as { error?: { detail?: string } }).error?.detail;
  return { status: body.status, retryAfterMs: retryAfterMs(response.headers["retry-after"]), detail: error, body };
}

/** The wait before poll number `poll` (0-based): quick at first, then doubling to 10 s; Retry-After wins when longer. */
export function pollDelayMs(poll: number, retryAfter: number | undefined): number {
  const own = Math.min(250 * 2 ** poll, 10_000);
  return Math.max(own, retryAfter ?? 0);
}

/** How long one authorization or order may stay undecided before the attempt counts as failed. */
export const POLL_DEADLINE_MS = 10 * 60_000;
