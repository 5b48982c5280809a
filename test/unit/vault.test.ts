import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { parseMasterKeys, Vault, VaultError } from "../../src/vault/vault.js";

const key = (id: string) => ({ id, key: randomBytes(32) });
const PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

describe("vault", () => {
  it("seals key material so that only the same record opens it, and nothing readable is stored", () => {
    const vault = new Vault([key("k1")]);
    const sealed = vault.seal(PEM, "acme_users/acu_1");
    assert.equal(sealed.master_key_id, "k1");
    const stored = Buffer.concat([sealed.key_ciphertext, sealed.key_nonce, sealed.key_tag, sealed.wrapped_data_key]);
    assert.equal(stored.includes(Buffer.from("PRIVATE KEY")), false);
    assert.equal(vault.open(sealed, "acme_users/acu_1").toString(), PEM);
    assert.throws(() => vault.open(sealed, "acme_users/acu_2"), VaultError, "a ciphertext moved to another record does not open");
    const tampered = { ...sealed, key_ciphertext: Buffer.from(sealed.key_ciphertext) };
    tampered.key_ciphertext[0]! ^= 1;
    assert.throws(() => vault.open(tampered, "acme_users/acu_1"), /does not authenticate/);
  });

  it("opens records of an older master key and names a missing one", () => {
    const old = key("old");
    const sealed = new Vault([old]).seal("secret", "certificates/crt_1");
    assert.equal(new Vault([key("new"), old]).open(sealed, "certificates/crt_1").toString(), "secret");
    assert.throws(() => new Vault([key("new")]).open(sealed, "certificates/crt_1"), /master key old is not configured/);
  });

  it("parses SWITCHYARD_MASTER_KEYS and refuses bad entries", () => {
    const b64 = randomBytes(32).toString("base64");
    const keys = parseMasterKeys(`new:${b64}, old:${b64}`);
    assert.ok(!("problem" in keys));
    assert.deepEqual(keys.map((k) => k.id), ["new", "old"]);
    assert.match((parseMasterKeys("k:short") as { problem: string }).problem, /32 bytes/);
    assert.match((parseMasterKeys(`:${b64}`) as { problem: string }).problem, /id:base64key/);
    assert.match((parseMasterKeys(`a:${b64},a:${b64}`) as { problem: string }).problem, /used twice/);
    assert.throws(() => new Vault([]), /no master key/);
  });
});
