// Retention (issue 11 item 4): changes, events and operations are pruned on a durable schedule;
// a watcher resuming from below the retained window gets FailedPrecondition and bootstraps.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { currentChangeVersion } from "../../src/db/changes.js";
import { prunedThrough } from "../../src/db/retention.js";
import { ClusterService, type WatchDeploymentsResponse } from "../../src/gen/ctrl/v1/cluster_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { freePort, LOOPBACK, startSwitchyard } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy } from "../support/fixtures.js";
import { invocationsOf } from "../support/restateQuery.js";
import { until } from "../support/until.js";

/** Messages of a stream until `done` (bounded), or the stream's error. */
async function read<T>(stream: (signal: AbortSignal) => AsyncIterable<T>, done: (seen: T[]) => boolean): Promise<T[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  const seen: T[] = [];
  try {
    for await (const message of stream(controller.signal)) {
      seen.push(message);
      if (done(seen)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return seen;
}

/** Invocations of Retention/prune that have not completed, per Restate's introspection. */
async function pendingPrunes(app: App): Promise<number> {
  return (await invocationsOf(app.stack.restate.adminUrl, "Retention", "prune")).filter((i) => i.status !== "completed").length;
}

describe("retention", () => {
  let app: App;
  before(async () => {
    app = await startApp({
      env: { SWITCHYARD_RETENTION_CHANGES: "2s", SWITCHYARD_RETENTION_EVENTS: "2s", SWITCHYARD_RETENTION_INTERVAL: "300ms", SWITCHYARD_STANDBY_GRACE: "1h" },
    });
  });
  after(async () => {
    await app?.stop();
  });

  it("a resume point older than the retained changes is FailedPrecondition; bootstrap from 0 gives the full state", async () => {
    const fixture = await createProject(app);
    const v1 = await deploy(app, fixture);
    const old = await currentChangeVersion(app.db);
    await until("the changes of the first deploy to be pruned", async () => (await prunedThrough(app.db, "changes")) >= old, 20_000, 100);
    const v2 = await deploy(app, fixture);
    const agent = app.client(ClusterService, { token: app.tokens.agents.local! });

    for (const watch of [
      (signal: AbortSignal) => agent.watchDeployments({ region: "local", fromVersion: BigInt(old - 1), agentId: "a" }, { signal }),
      (signal: AbortSignal) => agent.watchGatewayConfigs({ region: "local", fromVersion: BigInt(old - 1), agentId: "g" }, { signal }),
    ]) {
      await assert.rejects(
        read<unknown>(watch, () => true),
        (error: unknown) => {
          const e = ConnectError.from(error);
          return e.code === Code.FailedPrecondition && /older than the retained changes \(the oldest resume point is \d+\); restart from 0/.test(e.rawMessage);
        },
      );
    }

    const boot = await read<WatchDeploymentsResponse>(
      (signal) => agent.watchDeployments({ region: "local", fromVersion: 0n, agentId: "a" }, { signal }),
      (seen) => seen.some((m) => m.change.case === "bootstrapComplete"),
    );
    const ids = boot.flatMap((m) => (m.change.case === "upsert" ? [m.change.value.deploymentId] : []));
    assert.ok(ids.includes(v1.id) && ids.includes(v2.id), "the snapshot holds both deployments");
    const complete = boot.at(-1)!;
    assert.equal(complete.change.case, "bootstrapComplete");
    // Resuming from the snapshot's position is within the window.
    const pruned = await prunedThrough(app.db, "changes");
    assert.ok(complete.version >= BigInt(pruned));
  });

  it("WatchEvents from an id older than the retained events is FailedPrecondition naming the oldest retained id", async () => {
    const fixture = await createProject(app);
    await deploy(app, fixture);
    const newest = Number((await app.db.selectFrom("events").select((eb) => eb.fn.max("id").as("id")).executeTakeFirstOrThrow()).id);
    await until("the events to be pruned", async () => (await prunedThrough(app.db, "events")) >= newest, 20_000, 100);
    await assert.rejects(
      read((signal) => app.client(NetworkService, "acme").watchEvents({ workspaceId: fixture.workspaceId, afterEventId: 1n }, { signal }), () => true),
      (error: unknown) => ConnectError.from(error).code === Code.FailedPrecondition && /oldest retained/.test(ConnectError.from(error).rawMessage),
    );
  });

  it("prunes operation records only past their window, and one schedule runs however many replicas start", async () => {
    await sql`insert into operations (id, result, created_at) values ('old/step', '{"value":null}', utc_timestamp(3) - interval 31 day), ('recent/step', '{"value":null}', utc_timestamp(3) - interval 29 day)`.execute(app.db);
    await sql`insert into region_heartbeats (region, process_id, last_seen_at) values ('local', 'gone-agent', utc_timestamp(3) - interval 8 day), ('local', 'quiet-agent', utc_timestamp(3) - interval 6 day)`.execute(app.db);
    await until("the old operation record to be pruned", async () => !(await app.db.selectFrom("operations").select("id").where("id", "=", "old/step").executeTakeFirst()), 20_000, 100);
    assert.ok(await app.db.selectFrom("operations").select("id").where("id", "=", "recent/step").executeTakeFirst(), "a record inside its window stays");
    // The same run forgets a process not heard from for 7 days, and remembers a quieter one.
    await until("the gone agent's heartbeat to be forgotten", async () => !(await app.db.selectFrom("region_heartbeats").select("process_id").where("process_id", "=", "gone-agent").executeTakeFirst()), 20_000, 100);
    assert.ok(await app.db.selectFrom("region_heartbeats").select("process_id").where("process_id", "=", "quiet-agent").executeTakeFirst());

    // Two more starts of `switchyard serve`: still one chain of scheduled prunes.
    await app.switchyard.restart();
    const replica = await startSwitchyard(
      { ...app.env, SWITCHYARD_PORT: String(await freePort()), SWITCHYARD_ENDPOINT_PORT: String(await freePort()), SWITCHYARD_METRICS_LISTEN: `${LOOPBACK}:${await freePort()}`, SWITCHYARD_REGISTER: "false" },
      { name: "replica", readyTimeoutMs: 30_000 },
    );
    try {
      for (let i = 0; i < 10; i++) {
        const pending = await pendingPrunes(app);
        assert.ok(pending >= 1 && pending <= 2, `${pending} prune invocations pending`);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    } finally {
      await replica.stop();
    }
  });
});
