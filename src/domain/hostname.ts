import { domainToASCII, domainToUnicode } from "node:url";
import { isIP } from "node:net";
import { mixedScripts } from "./mixedScript.js";

export interface CanonicalHostname {
  /** Lowercase A-label form: how hostnames are stored and compared. */
  ascii: string;
  /** Unicode form, for display. */
  unicode: string;
}

/**
 * Canonicalises a hostname with UTS-46 (WHATWG URL's domainToASCII: mapping, case folding,
 * punycode) and checks DNS limits. Returns a problem description instead of throwing, so the
 * API can name the field. Wildcards, IPs, ports, schemes and paths are refused here; callers
 * that accept a wildcard strip its `*.` label first. IPs are refused after the UTS-46 mapping
 * too, which turns `0xa.0.0.1` or `127.1` into the address they stand for; a label mixing
 * scripts (UTS #39, mixedScript.ts) is refused as a spoof.
 */
export function canonicalHostname(input: string): CanonicalHostname | { problem: string } {
  const text = input.trim();
  if (text === "") return { problem: "is required" };
  if (text.length > 1024) return { problem: "is longer than 253 characters" };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return { problem: "must be a bare hostname, without a scheme" };
  if (text.includes("/")) return { problem: "must be a bare hostname, without a path" };
  if (text.startsWith("*")) return { problem: "must not be a wildcard" };
  if (isIP(text.replace(/^\[|\]$/g, ""))) return { problem: "must be a hostname, not an IP address" };
  if (/:\d*$/.test(text)) return { problem: "must not carry a port" };
  if (text.endsWith(".")) return { problem: "must not end with a dot" };
  const ascii = domainToASCII(text);
  if (ascii === "") return { problem: "is not a valid hostname" };
  if (isIP(ascii)) return { problem: "must be a hostname, not an IP address" };
  if (ascii.length > 253) return { problem: "is longer than 253 characters" };
  const labels = ascii.split(".");
  for (const label of labels) {
    if (label.length === 0) return { problem: "has an empty label" };
    if (label.length > 63) return { problem: `has a label longer than 63 characters (${label.slice(0, 20)}…)` };
    // Underscores are allowed: service labels such as _acme-challenge are hostnames too.
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9])?$/.test(label)) return { problem: `has an invalid label "${label}"` };
  }
  if (labels.length < 2 && ascii !== "localhost") return { problem: "needs at least two labels" };
  const unicode = domainToUnicode(ascii);
  for (const label of unicode.split(".")) {
    const scripts = mixedScripts(label);
    if (scripts) return { problem: `has a label that mixes scripts (${scripts.join(" and ")}) in "${label}", a common spoof; use one script per label (UTS #39)` };
  }
  return { ascii, unicode };
}
