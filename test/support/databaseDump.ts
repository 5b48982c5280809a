// Every row of every table as text, the way a database dump would show it: what must never
// contain a private key in plaintext.
import { sql } from "kysely";
import type { App } from "./app.js";

/** Every table's rows as text (buffers as hex and as latin1). */
export async function databaseDump(app: App): Promise<string> {
  const tables = await sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()`.execute(app.db);
  const parts: string[] = [];
  for (const { t } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(t)}`.execute(app.db);
    for (const row of rows.rows) {
      for (const value of Object.values(row)) parts.push(Buffer.isBuffer(value) ? `${value.toString("hex")} ${value.toString("latin1")}` : String(value));
    }
  }
  return parts.join("\n");
}
