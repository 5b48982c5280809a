// The dev stack's vault master key: made once, kept in <data>/master-key (mode 0600), so ACME
// account and certificate keys can be stored encrypted. SWITCHYARD_MASTER_KEYS replaces it.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** `dev:<base64 32 bytes>`, the SWITCHYARD_MASTER_KEYS value for the dev stack. */
export function ensureDevMasterKey(dataRoot: string): string {
  const file = path.join(dataRoot, "master-key");
  if (fs.existsSync(file)) {
    const saved = fs.readFileSync(file, "utf8").trim();
    if (saved) return saved;
  }
  const value = `dev:${crypto.randomBytes(32).toString("base64")}`;
  fs.mkdirSync(dataRoot, { recursive: true });
  fs.writeFileSync(file, `${value}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return value;
}
