// The dev stack's credentials, each made once and kept in the data directory (mode 0600):
//   <data>/dev-token    the API token of tenant "dev" (`SWITCHYARD_API_TOKENS` replaces it)
//   <data>/agent-token  the region credential of the dev region's agent (`SWITCHYARD_AGENT_TOKENS` replaces it)

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const DEV_TENANT = "dev";

export function devTokenFile(dataRoot: string): string {
  return path.join(dataRoot, "dev-token");
}

export function devAgentTokenFile(dataRoot: string): string {
  return path.join(dataRoot, "agent-token");
}

/** The saved dev token, created with 24 random bytes on the first run. */
export function ensureDevToken(dataRoot: string): string {
  return ensureSecret(devTokenFile(dataRoot));
}

/** The region the dev stack's agent serves: the first of SWITCHYARD_REGIONS (default "local"). */
export function devRegion(env: NodeJS.ProcessEnv = process.env): string {
  return (env.SWITCHYARD_REGIONS || "local").split(",")[0]!.trim();
}

/**
 * The dev region's agent credential (created on the first run): `switchyard serve` gets it as
 * `SWITCHYARD_AGENT_TOKENS=<devRegion>=<token>`, and the dev stack's agent calls with it.
 */
export function ensureDevAgentToken(dataRoot: string): string {
  return ensureSecret(devAgentTokenFile(dataRoot));
}

function ensureSecret(file: string): string {
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, "utf8").trim();
    if (token.length >= 16) return token;
  }
  const token = crypto.randomBytes(24).toString("hex");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return token;
}
