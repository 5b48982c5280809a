// The dev stack's API token: made once, kept in <data>/dev-token (mode 0600), bound to tenant
// "dev". `SWITCHYARD_API_TOKENS` in the environment replaces it entirely.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const DEV_TENANT = "dev";

export function devTokenFile(dataRoot: string): string {
  return path.join(dataRoot, "dev-token");
}

/** The saved dev token, created with 24 random bytes on the first run. */
export function ensureDevToken(dataRoot: string): string {
  const file = devTokenFile(dataRoot);
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, "utf8").trim();
    if (token.length >= 16) return token;
  }
  const token = crypto.randomBytes(24).toString("hex");
  fs.mkdirSync(dataRoot, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return token;
}
