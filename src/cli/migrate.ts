import { Command } from "commander";
import { createDb, ensureDatabase } from "../db/connect.js";
import { migrateDownAll, migrateToLatest } from "../db/migrate.js";

export function migrateCommand(): Command {
  return new Command("migrate")
    .description("apply database migrations (DATABASE_URL); --down reverts them all")
    .option("--down", "revert every migration instead of applying them")
    .action(async (options: { down?: boolean }) => {
      const url = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/switchyard";
      await ensureDatabase(url);
      const db = createDb(url);
      try {
        const applied = options.down ? await migrateDownAll(db) : await migrateToLatest(db);
        process.stdout.write(applied.length ? `${options.down ? "reverted" : "applied"}: ${applied.join(", ")}\n` : "nothing to do\n");
      } finally {
        await db.destroy();
      }
    });
}
