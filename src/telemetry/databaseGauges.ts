import { sql, type Kysely } from "kysely";
import { Gauge, type Registry } from "prom-client";
import { regionProcesses, SILENT_AFTER_MS } from "../cluster/heartbeats.js";
import { currentChangeVersion } from "../db/changes.js";
import type { Database } from "../db/schema.js";
import type { FeedTailer } from "../cluster/feedTailer.js";

// Gauges read from the database when Prometheus scrapes (a few indexed counts, once per scrape
// interval, not per change). A failed read keeps the previous value: a scrape never fails
// because the database is slow.

const EXPIRY_WINDOW_DAYS = 14;

export function registerDatabaseGauges(registry: Registry, db: Kysely<Database>, feed: FeedTailer): void {
  new Gauge({
    name: "switchyard_certificates_expiring",
    help: `Issued certificates whose not_after is within ${EXPIRY_WINDOW_DAYS} days (or already past) — renewals that have not happened`,
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom("certificates")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("pem_chain", "is not", null)
        .where("not_after", "<", sql<Date>`utc_timestamp(3) + interval ${sql.lit(EXPIRY_WINDOW_DAYS)} day`)
        .executeTakeFirst()
        .catch(() => undefined);
      if (row) this.set(Number(row.n));
    },
  });

  new Gauge({
    name: "switchyard_feed_backlog",
    help: "Changes committed to the feed that this process's feed tailer has not read yet (0 while no watch stream is open)",
    registers: [registry],
    async collect() {
      const head = feed.position();
      if (head === undefined) return this.set(0);
      const version = await currentChangeVersion(db).catch(() => undefined);
      if (version !== undefined) this.set(Math.max(0, version - head));
    },
  });

  new Gauge({
    name: "switchyard_region_processes",
    help: `Agents and gateways per region by their heartbeats: alive (heard from within ${SILENT_AFTER_MS / 1000} s) or silent (heard from before, forgotten after 7 days) — alert on silent > 0`,
    labelNames: ["region", "state"] as const,
    registers: [registry],
    async collect() {
      const regions = await regionProcesses(db, SILENT_AFTER_MS).catch(() => undefined);
      if (!regions) return;
      this.reset();
      for (const { region, alive, silent } of regions) {
        this.set({ region, state: "alive" }, alive);
        this.set({ region, state: "silent" }, silent);
      }
    },
  });

  new Gauge({
    name: "switchyard_webhook_retries_waiting",
    help: "Webhook deliveries that failed and wait for their next attempt (the outbox's undelivered backlog)",
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom("webhook_deliveries")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("status", "=", "failed")
        .where("next_attempt_at", ">", sql<Date>`utc_timestamp(3)`)
        .executeTakeFirst()
        .catch(() => undefined);
      if (row) this.set(Number(row.n));
    },
  });
}
