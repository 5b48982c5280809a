import { Command } from "commander";
import { parseMasterKeys, Vault } from "../vault/vault.js";
import { runCommand, UsageError } from "./output.js";

/** `switchyard keys rotate`: re-seal every stored private key under the first master key. */
export function keysCommand(): Command {
  const command = new Command("keys").description("the vault's master keys");
  command
    .command("rotate")
    .description("re-encrypt every stored private key under the first key of SWITCHYARD_MASTER_KEYS (DATABASE_URL)")
    .action(() =>
      runCommand(async () => {
        const keys = parseMasterKeys(process.env.SWITCHYARD_MASTER_KEYS ?? "");
        if ("problem" in keys) throw new UsageError(`SWITCHYARD_MASTER_KEYS: ${keys.problem}`);
        if (keys.length === 0) throw new UsageError("SWITCHYARD_MASTER_KEYS is not set: put the new key first, the old ones after it");
        // The database code loads only for this command (the pipeline commands start without it).
        const [{ createDb }, { resealAll }] = await Promise.all([import("../db/connect.js"), import("../vault/rotate.js")]);
        const db = createDb(process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/switchyard");
        try {
          const counts = await resealAll(db, new Vault(keys));
          process.stdout.write(`re-encrypted under ${keys[0]!.id}: ${Object.entries(counts).map(([table, n]) => `${n} ${table}`).join(", ")}\n`);
        } finally {
          await db.destroy();
        }
      }),
    );
  return command;
}
