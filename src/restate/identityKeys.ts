import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import bs58 from "bs58";

// Restate request identity: restate-server signs every request to a service endpoint with an
// Ed25519 private key (RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE) and the
// endpoint accepts only requests signed by a key it knows (SWITCHYARD_RESTATE_IDENTITY_KEYS). The
// public key is written `publickeyv1_<base58 of the 32 raw key bytes>`, as restate-server logs it.

export interface IdentityKeyPair {
  /** PKCS#8 PEM for restate-server. */
  privateKeyPem: string;
  /** `publickeyv1_…` for the endpoint. */
  publicKey: string;
}

export function generateIdentityKeyPair(): IdentityKeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  const privateKeyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  return { privateKeyPem, publicKey: identityPublicKey(privateKeyPem) };
}

/** The `publickeyv1_…` form of the public half of an Ed25519 private key in PEM. */
export function identityPublicKey(privateKeyPem: string): string {
  const spki = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: "der", type: "spki" });
  // An Ed25519 SubjectPublicKeyInfo ends with the 32 bytes of the key itself.
  return `publickeyv1_${bs58.encode(spki.subarray(spki.length - 32))}`;
}

/**
 * The key pair kept in `dir` (restate-identity.pem, mode 0600), made on first use; returns the
 * PEM's path and the public key. The dev stack and the compose setup keep theirs this way.
 */
export function ensureIdentityKeyPair(dir: string): { pemFile: string; publicKey: string } {
  const pemFile = path.join(dir, "restate-identity.pem");
  if (!fs.existsSync(pemFile)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(pemFile, generateIdentityKeyPair().privateKeyPem, { mode: 0o600, flag: "wx" });
  }
  return { pemFile, publicKey: identityPublicKey(fs.readFileSync(pemFile, "utf8")) };
}
