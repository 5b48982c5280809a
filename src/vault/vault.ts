import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { EncryptedKeyColumns } from "../db/schema.js";

// Envelope encryption of private keys at rest (invariant no-plaintext-keys): every record gets
// its own random data key; the key material is sealed with it (AES-256-GCM, the record's name as
// additional data, so a ciphertext moved to another row does not open); the data key is sealed
// with the current master key (AES-256-GCM, the master key id as additional data) and stored
// next to it with that id. Master keys come from configuration; rotating means adding a new one
// in front and running `switchyard keys rotate`, which re-seals every record under it.
//
//   wrapped_data_key = nonce(12) ‖ tag(16) ‖ AES-256-GCM(master key, data key)

export interface MasterKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export class VaultError extends Error {
  override name = "VaultError";
}

const NONCE = 12;
const TAG = 16;

function seal(key: Buffer, plaintext: Buffer, aad: string): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

function open(key: Buffer, sealed: { nonce: Buffer; ciphertext: Buffer; tag: Buffer }, aad: string): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.nonce);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.tag);
  try {
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new VaultError("key material does not authenticate (wrong record, wrong master key, or tampered)");
  }
}

export class Vault {
  private readonly byId: Map<string, Buffer>;

  /** `keys[0]` is the current master key; the others only open older records. */
  constructor(private readonly keys: readonly MasterKey[]) {
    if (keys.length === 0) throw new VaultError("no master key configured (SWITCHYARD_MASTER_KEYS)");
    for (const k of keys) if (k.key.length !== 32) throw new VaultError(`master key ${k.id} is not 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  /** Seals key material for the record named `record` (e.g. "acme_users/acu_…"). */
  seal(plaintext: Buffer | string, record: string): EncryptedKeyColumns {
    const dataKey = randomBytes(32);
    try {
      const sealed = seal(dataKey, Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext), record);
      const master = this.keys[0]!;
      const wrapped = seal(master.key, dataKey, master.id);
      return {
        key_ciphertext: sealed.ciphertext,
        key_nonce: sealed.nonce,
        key_tag: sealed.tag,
        wrapped_data_key: Buffer.concat([wrapped.nonce, wrapped.tag, wrapped.ciphertext]),
        master_key_id: master.id,
      };
    } finally {
      dataKey.fill(0);
    }
  }

  /** Opens the key material of the record named `record`. */
  open(columns: EncryptedKeyColumns, record: string): Buffer {
    const master = this.byId.get(columns.master_key_id);
    if (!master) throw new VaultError(`master key ${columns.master_key_id} is not configured; add it to SWITCHYARD_MASTER_KEYS`);
    const w = columns.wrapped_data_key;
    const dataKey = open(master, { nonce: w.subarray(0, NONCE), tag: w.subarray(NONCE, NONCE + TAG), ciphertext: w.subarray(NONCE + TAG) }, columns.master_key_id);
    try {
      return open(dataKey, { nonce: columns.key_nonce, ciphertext: columns.key_ciphertext, tag: columns.key_tag }, record);
    } finally {
      dataKey.fill(0);
    }
  }
}

/** Parses SWITCHYARD_MASTER_KEYS: `id:base64,…`, current first; returns the problem instead of throwing. */
export function parseMasterKeys(raw: string): MasterKey[] | { problem: string } {
  const keys: MasterKey[] = [];
  for (const [index, entry] of raw.split(",").map((e) => e.trim()).filter(Boolean).entries()) {
    const separator = entry.indexOf(":");
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), "base64");
    if (separator < 1 || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) return { problem: `entry ${index + 1} must be id:base64key with a short id (letters, digits, - and _)` };
    if (key.length !== 32) return { problem: `key "${id}" must be 32 bytes, base64-encoded (openssl rand -base64 32)` };
    if (keys.some((k) => k.id === id)) return { problem: `key id "${id}" is used twice` };
    keys.push({ id, key });
  }
  return keys;
}
