import { isIP } from "node:net";

/**
 * Hostnames meant for a developer's machine get no gateway config (local-domains-filtered): `.local`,
 * `.test`, `localhost` and its subdomains, and loopback addresses — unless they sit under the
 * configured platform apex, which an operator chose deliberately (e.g. `apps.localhost`).
 */
export function isLocalHostname(hostname: string, platformApex: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === platformApex || host.endsWith(`.${platformApex}`)) return false;
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host.endsWith(".local") || host.endsWith(".test")) return true;
  const bare = host.replace(/^\[|\]$/g, "");
  return (isIP(bare) === 4 && bare.startsWith("127.")) || (isIP(bare) === 6 && bare === "::1");
}
