import { parse } from "tldts";
import { canonicalHostname } from "../domain/hostname.js";
import { isLocalHostname } from "../domain/localHostnames.js";

export interface CustomDomainName {
  /** Stored form: lowercase A-labels, `*.` first for a wildcard. */
  hostname: string;
  /** The same name in Unicode, for display. */
  unicodeHostname: string;
  /** The name ownership is proven for: the hostname without its `*.` label. */
  baseHostname: string;
  wildcard: boolean;
  /** The registrable domain itself (example.com, not a wildcard): it cannot carry a CNAME, so it needs A/AAAA records. */
  apex: boolean;
}

/**
 * Checks a hostname a customer brings: UTS-46 canonical form and DNS limits
 * (hostname.ts), then the rules of a name someone can own — under a public suffix of the
 * Public Suffix List (ICANN or private section, via tldts) but not a public suffix itself,
 * not a developer-local name, not under the platform's own apex. A `*.` name needs `wildcard`.
 * Returns the problem, phrased to follow the field name, instead of throwing.
 */
export function customDomainName(input: string, opts: { wildcard: boolean; platformApex: string }): CustomDomainName | { problem: string } {
  const text = input.trim();
  const starred = text.startsWith("*.");
  if (starred && !opts.wildcard) return { problem: "is a wildcard; set wildcard to claim every direct subdomain" };
  if (!starred && opts.wildcard) return { problem: 'must start with "*." when wildcard is set' };
  const canonical = canonicalHostname(starred ? text.slice(2) : text);
  if ("problem" in canonical) return canonical;
  const base = canonical.ascii;
  if (isLocalHostname(base, opts.platformApex) || base === "localhost") return { problem: `is a local name (${base}); use a name in public DNS` };
  if (base === opts.platformApex || base.endsWith(`.${opts.platformApex}`)) {
    return { problem: `is under the platform domain ${opts.platformApex}, whose hostnames are assigned automatically` };
  }
  if (base.includes("_")) return { problem: "must not contain underscores (they are for service labels such as _acme-challenge)" };
  const parsed = parse(base, { allowPrivateDomains: true });
  if (!parsed.isIcann && !parsed.isPrivate) return { problem: `is not under a known public suffix (".${parsed.publicSuffix ?? base}" is not a top-level domain)` };
  if (parsed.domain === null || parsed.publicSuffix === base) return { problem: `is a public suffix (${base}); nobody can own it as a whole` };
  const hostname = starred ? `*.${base}` : base;
  return {
    hostname,
    unicodeHostname: starred ? `*.${canonical.unicode}` : canonical.unicode,
    baseHostname: base,
    wildcard: starred,
    apex: !starred && base === parsed.domain,
  };
}
