import ipaddr from "ipaddr.js";

// Which network addresses a tenant-supplied target (a webhook URL, an address an agent reports, a
// spec to scrape) may reach. Tenants never choose where the platform's own requests go on its
// private networks: by default only public unicast addresses pass. An operator widens that with
// an explicit list of CIDR ranges (the tests and the dev stack allow loopback this way).
//
// ipaddr.js classifies addresses by the IANA special-purpose registries; an IPv4-mapped IPv6
// address (::ffff:127.0.0.1) is judged as the IPv4 address it carries, so it cannot smuggle
// loopback past the check.

export interface AddressRanges {
  /** The ranges as configured, for messages. */
  readonly text: string;
  readonly cidrs: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

export const NO_EXTRA_RANGES: AddressRanges = { text: "", cidrs: [] };

/**
 * Parses a comma-separated CIDR list ("127.0.0.0/8,::1/128,10.0.0.0/8"); a bare address is its
 * own /32 or /128. Returns a problem description instead of throwing, for config validation.
 */
export function parseAddressRanges(text: string): AddressRanges | { problem: string } {
  const cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const raw of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    try {
      if (raw.includes("/")) {
        const [address, bits] = ipaddr.parseCIDR(raw);
        cidrs.push([normalise(address), address.kind() === "ipv6" && normalise(address).kind() === "ipv4" ? bits - 96 : bits]);
      } else {
        const address = normalise(ipaddr.parse(raw));
        cidrs.push([address, address.kind() === "ipv4" ? 32 : 128]);
      }
    } catch {
      return { problem: `"${raw.slice(0, 64)}" is not an IP address or CIDR range` };
    }
  }
  return { text: cidrs.length ? text.trim() : "", cidrs };
}

/** A strict dotted/colon IP literal (no `127.1`, `0x7f.0.0.1`, octal or decimal forms). */
export function parseIpLiteral(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = text.replace(/^\[|\]$/g, "");
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (bare.includes(":") && ipaddr.IPv6.isValid(bare)) return normalise(ipaddr.IPv6.parse(bare));
  return undefined;
}

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * May the platform connect to `address` on a tenant's behalf? Public unicast addresses always
 * may; anything else (loopback, private, link-local, CGNAT, multicast, reserved, unspecified…)
 * only inside one of the operator's `extra` ranges.
 */
export function judgeAddress(address: string, extra: AddressRanges = NO_EXTRA_RANGES): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = normalise(ipaddr.parse(address));
  } catch {
    return { allowed: false, reason: `"${address.slice(0, 64)}" is not an IP address` };
  }
  for (const [range, bits] of extra.cidrs) {
    if (range.kind() === parsed.kind() && parsed.match(range as never, bits)) return { allowed: true };
  }
  const kind = parsed.range();
  if (kind === "unicast") return { allowed: true };
  return { allowed: false, reason: `${parsed.toString()} is a ${kind} address, which is not allowed${extra.text ? ` (allowed ranges: ${extra.text})` : ""}` };
}

/** Is `address` inside one of the operator's ranges (not merely public)? */
export function withinRanges(address: string, ranges: AddressRanges): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = normalise(ipaddr.parse(address));
  } catch {
    return false;
  }
  return ranges.cidrs.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range as never, bits));
}

function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}
