import { sql, type Kysely } from "kysely";
import type { Database } from "../db/schema.js";

// The last Heartbeat of every agent and gateway, per region: which processes serve a region,
// their build, how far each has applied its feed, and whether it still calls in. One upsert per
// heartbeat (every 10 s per process); gauges read it when Prometheus scrapes; the retention job
// forgets processes that stopped calling in long ago.

export interface Heartbeat {
  region: string;
  processId: string;
  processVersion: string;
  deploymentsVersion: number;
  gatewayConfigsVersion: number;
}

/** How often agents and gateways should call Heartbeat (the server tells them in its answer). */
export const HEARTBEAT_INTERVAL_MS = 10_000;

/** A process that has not called in for three intervals is silent. */
export const SILENT_AFTER_MS = 3 * HEARTBEAT_INTERVAL_MS;

/** How long a process that stopped calling in is remembered (then the retention job drops it). */
export const FORGET_AFTER_MS = 7 * 24 * 3600 * 1000;

export async function recordHeartbeat(db: Kysely<Database>, beat: Heartbeat): Promise<void> {
  const seen = { process_version: beat.processVersion, deployments_version: beat.deploymentsVersion, gateway_configs_version: beat.gatewayConfigsVersion, last_seen_at: sql<Date>`utc_timestamp(3)` };
  await db
    .insertInto("region_heartbeats")
    .values({ region: beat.region, process_id: beat.processId, ...seen, first_seen_at: sql<Date>`utc_timestamp(3)` })
    .onDuplicateKeyUpdate(seen)
    .execute();
}

export interface RegionProcesses {
  region: string;
  alive: number;
  silent: number;
}

/** Per region: processes heard from within `silentAfterMs`, and those heard from before that. */
export async function regionProcesses(db: Kysely<Database>, silentAfterMs: number): Promise<RegionProcesses[]> {
  const aliveSince = sql<Date>`utc_timestamp(3) - interval ${sql.lit(Math.round(silentAfterMs))} * 1000 microsecond`;
  const rows = await db
    .selectFrom("region_heartbeats")
    .select((eb) => [
      "region",
      eb.fn.sum<number>(eb.case().when("last_seen_at", ">=", aliveSince).then(1).else(0).end()).as("alive"),
      eb.fn.countAll<number>().as("total"),
    ])
    .groupBy("region")
    .orderBy("region")
    .execute();
  return rows.map((r) => ({ region: r.region, alive: Number(r.alive), silent: Number(r.total) - Number(r.alive) }));
}

/** Forgets processes last heard from before `cutoff`; returns how many. */
export async function pruneHeartbeats(db: Kysely<Database>, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom("region_heartbeats").where("last_seen_at", "<", cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
