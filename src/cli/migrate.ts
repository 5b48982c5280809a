import { Command } from "commander";

export function migrateCommand(): Command {
  return new Command("migrate")
    .description("apply database migrations (DATABASE_URL); --down reverts them all")
    .option("--down", "revert every migration instead of applying them")
    .action(async (options: { down?: boolean }) => {
      // The database code loads only for this command (the pipeline commands start without it).
      const [{ createDb, ensureDatabase }, { migrateDownAll, migrateToLatest }] = await Promise.all([import("../db/connect.js"), import("../db/migrate.js")]);
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
