import http from "node:http";
import { checkInstanceAddress } from "../domain/instanceAddress.js";
import type { AddressRanges } from "../domain/addressRanges.js";

// GET <spec path> from one instance, at the address its agent reported — the one kind of address
// switchyard connects to inside the operator's instance ranges (SWITCHYARD_INSTANCE_ADDRESS_RANGES).
// Bounded every way a hostile app could stretch it: the address is checked again, the body is
// capped (Content-Length first, then counted), one timeout covers connect to last byte, and
// redirects are followed only to the same instance (a few hops) — never to another host.

export interface FetchSpecOptions {
  ranges: AddressRanges;
  timeoutMs: number;
  maxBytes: number;
}

export type FetchedSpec =
  | { outcome: "published"; text: string; contentType: string | undefined }
  /** The app answered 404: it publishes no spec. */
  | { outcome: "none"; detail: string }
  /** Not stored: too large, a redirect off the instance, an error status, a timeout… */
  | { outcome: "refused"; detail: string };

const MAX_REDIRECTS = 3;
const UTF8 = new TextDecoder("utf-8", { fatal: true });
/** Details are stored in a varchar(1024). */
const MAX_DETAIL = 1000;

export async function fetchSpec(address: string, specPath: string, opts: FetchSpecOptions): Promise<FetchedSpec> {
  const fetched = await fetchBounded(address, specPath, opts);
  return fetched.outcome === "published" ? fetched : { ...fetched, detail: fetched.detail.length > MAX_DETAIL ? `${fetched.detail.slice(0, MAX_DETAIL - 1)}…` : fetched.detail };
}

async function fetchBounded(address: string, specPath: string, opts: FetchSpecOptions): Promise<FetchedSpec> {
  const verdict = checkInstanceAddress(address, opts.ranges);
  if (!verdict.ok) return { outcome: "refused", detail: `instance address ${address}: ${verdict.problem}` };
  const origin = `http://${address}`;
  const deadline = Date.now() + opts.timeoutMs;
  let path = specPath;
  for (let hop = 0; ; hop++) {
    const answer = await getOnce(origin, path, opts.maxBytes, deadline - Date.now());
    if (answer.kind === "failed") return { outcome: "refused", detail: answer.detail };
    if (answer.kind === "redirect") {
      const target = safeUrl(answer.location, `${origin}${path}`);
      if (!target || target.origin !== origin) {
        return { outcome: "refused", detail: `GET ${path} redirected to ${target?.origin ?? "an unparsable location"}, off the instance; not followed` };
      }
      if (hop >= MAX_REDIRECTS) return { outcome: "refused", detail: `GET ${specPath}: more than ${MAX_REDIRECTS} redirects` };
      path = `${target.pathname}${target.search}`;
      continue;
    }
    if (answer.status === 404) return { outcome: "none", detail: `GET ${path} answered 404: the deployment publishes no spec` };
    if (answer.status < 200 || answer.status > 299) return { outcome: "refused", detail: `GET ${path} answered HTTP ${answer.status}` };
    return { outcome: "published", text: answer.body, contentType: answer.contentType };
  }
}

type Answer =
  | { kind: "body"; status: number; body: string; contentType: string | undefined }
  | { kind: "redirect"; location: string }
  | { kind: "failed"; detail: string };

function getOnce(origin: string, path: string, maxBytes: number, timeoutMs: number): Promise<Answer> {
  if (timeoutMs <= 0) return Promise.resolve({ kind: "failed", detail: `GET ${path}: no answer within the scrape timeout` });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(answer);
    };
    const request = http.get(`${origin}${path}`, { headers: { accept: "application/yaml, application/json;q=0.9, */*;q=0.1" }, agent: false }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        settle({ kind: "redirect", location: response.headers.location });
        return;
      }
      const declared = Number(response.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBytes) {
        settle({ kind: "failed", detail: `GET ${path}: the spec is ${declared} bytes, more than the ${maxBytes}-byte limit` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) settle({ kind: "failed", detail: `GET ${path}: the spec is more than the ${maxBytes}-byte limit` });
        else chunks.push(chunk);
      });
      response.on("end", () => {
        // Strictly UTF-8: replacement characters could make 10 MiB of bad bytes three times larger.
        let body: string;
        try {
          body = UTF8.decode(Buffer.concat(chunks));
        } catch {
          settle({ kind: "failed", detail: `GET ${path}: the spec is not UTF-8 text` });
          return;
        }
        settle({ kind: "body", status, body, contentType: response.headers["content-type"] });
      });
      response.on("error", (error) => settle({ kind: "failed", detail: `GET ${path}: ${error.message}` }));
    });
    request.on("error", (error) => settle({ kind: "failed", detail: `GET ${path}: ${error.message}` }));
    const timer = setTimeout(() => settle({ kind: "failed", detail: `GET ${path}: no complete answer within ${Math.round(timeoutMs)} ms` }), timeoutMs);
  });
}

function safeUrl(location: string, base: string): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}
