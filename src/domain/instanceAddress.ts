import { parseIpLiteral, type AddressRanges } from "./addressRanges.js";

// The address an agent reports for an instance is where the gateways will send a tenant's
// traffic, so it must be exactly an IP literal and port on the cluster's instance network:
// `10.1.2.3:8080` or `[fd00::5]:8080`, inside the operator's ranges
// (SWITCHYARD_INSTANCE_ADDRESS_RANGES). No hostnames (their answer can change after the check),
// no shorthand IPv4 forms, no port 0.

const SHAPE = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9A-Fa-f:.]+)\]):([1-9]\d{0,4})$/;

export type InstanceAddressVerdict = { ok: true } | { ok: false; problem: string };

export function checkInstanceAddress(text: string, ranges: AddressRanges): InstanceAddressVerdict {
  const match = SHAPE.exec(text);
  if (!match) return { ok: false, problem: "must be host:port with an IP literal host (10.0.0.5:8080, [fd00::5]:8080)" };
  const port = Number(match[3]);
  if (port > 65535) return { ok: false, problem: `port ${port} is not 1-65535` };
  const host = match[1] ?? match[2]!;
  const ip = parseIpLiteral(host);
  // Brackets are for IPv6 only (an IPv4-mapped one may carry dots inside).
  if (!ip || (match[2] !== undefined && !host.includes(":"))) return { ok: false, problem: `"${host}" is not an IP address` };
  const inside = ranges.cidrs.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range as never, bits));
  if (!inside) return { ok: false, problem: `${ip.toString()} is outside the instance address ranges (${ranges.text || "none configured"})` };
  return { ok: true };
}
