import fs from "node:fs";

// Caddy 2.6 (Debian) opens a new SO_REUSEPORT listening socket for every config it loads and
// closes the old one; Linux resets the connections still queued on the closed socket unless
// net.ipv4.tcp_migrate_req moves them to the new one (Linux >= 5.14, per network namespace; see
// docs/architecture.md, "Gateway"). The gateway tests count such a reset as a failed request,
// as a user would see it, so the test run turns the setting on where it may.
const SETTING = "/proc/sys/net/ipv4/tcp_migrate_req";

/** Turns listener migration on if it is off and we may; returns what to tell the user, if anything. */
export function enableListenerMigration(): string | undefined {
  let current: string;
  try {
    current = fs.readFileSync(SETTING, "utf8").trim();
  } catch {
    return `${SETTING} does not exist (Linux < 5.14): Caddy reloads may reset queued connections and the gateway tests may count them as failed requests`;
  }
  if (current === "1") return undefined;
  try {
    fs.writeFileSync(SETTING, "1");
    return "set net.ipv4.tcp_migrate_req=1 so Caddy reloads hand queued connections to the new listener (docs/architecture.md, \"Gateway\")";
  } catch {
    return "net.ipv4.tcp_migrate_req is 0 and could not be set (not root?): Caddy reloads may reset queued connections and the gateway tests may count them as failed requests; run `sysctl -w net.ipv4.tcp_migrate_req=1`";
  }
}
