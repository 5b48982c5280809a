import * as acme from "acme-client";
import axios, { type AxiosResponse, type InternalAxiosRequestConfig } from "axios";

// How switchyard reads the CA's answers. acme-client would sleep on a rate-limit answer inside
// the request (for however long Retry-After says), which in a workflow step means an invocation
// stuck past its timeouts. Instead a 429, or a 503 that names a Retry-After, becomes a
// CaBackoffError before acme-client sees it, and the Certificate object sleeps durably. A
// connection that fails is tried twice more here, then a CaUnreachableError names the CA and the
// cause (acme-client's own retry of it ends in a TypeError). A 5xx keeps acme-client's short
// in-request retries; badNonce is retried by acme-client itself.

export class CaBackoffError extends Error {
  constructor(
    readonly retryAfterMs: number,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "CaBackoffError";
  }
}

export class CaUnreachableError extends Error {
  constructor(url: string | undefined, cause: string) {
    super(`the CA at ${url ? new URL(url).host : "its directory URL"} is unreachable (${cause})`);
    this.name = "CaUnreachableError";
  }
}

/** Waits before trying a failed connection again (then the attempt fails). */
const CONNECT_RETRY_MS = [500, 1000];

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date); undefined if absent. */
export function retryAfterMs(header: unknown, now: Date = new Date()): number | undefined {
  if (typeof header !== "string" || header.trim() === "") return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** The fallback wait when a rate-limit answer names no Retry-After. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;

function problemDetail(response: AxiosResponse): string {
  const body = response.data as { type?: string; detail?: string } | undefined;
  const text = body && typeof body === "object" ? [body.type, body.detail].filter(Boolean).join(": ") : "";
  return `HTTP ${response.status}${text ? ` ${text}` : ""}`;
}

let installed = false;

/** Wraps the HTTP adapter of acme-client's axios instance once per process. */
export function installCaBackoff(): void {
  if (installed) return;
  installed = true;
  const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
  // A few quick in-request retries for a dropped connection or a 5xx; the rest is our backoff.
  settings.retryMaxAttempts = 3;
  settings.retryDefaultDelay = 1;
  const http = axios.getAdapter("http");
  acme.axios.defaults.adapter = async (config: InternalAxiosRequestConfig) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await http(config);
      } catch (error) {
        // acme-client makes every answer "fail" validation so its interceptor sees it: look here.
        const response = axios.isAxiosError(error) ? error.response : undefined;
        if (!response) {
          if (attempt < CONNECT_RETRY_MS.length) {
            await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS[attempt]));
            continue;
          }
          throw new CaUnreachableError(config.url, (error as { code?: string }).code ?? (error as Error).message);
        }
        const wait = retryAfterMs(response.headers["retry-after"]);
        if (response.status === 429 || (response.status === 503 && wait !== undefined)) {
          throw new CaBackoffError(wait ?? DEFAULT_RATE_LIMIT_WAIT_MS, `the CA asked to wait (${problemDetail(response)})`);
        }
        throw error;
      }
    }
  };
}
