// WatchEvents streams a workspace's outbox events in id order, each once, resumable from any id,
// and shows nothing of another tenant.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NetworkService, type Event } from "../../src/gen/ctrl/v1/network_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";

interface WatchRequest {
  workspaceId: string;
  afterEventId?: bigint;
  types?: string[];
}

/** The first `count` events of a stream (bounded: the stream is cancelled after 10 s). */
async function take(app: App, request: WatchRequest, count: number, tenant: "acme" | "globex" = "acme"): Promise<Event[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  const events: Event[] = [];
  try {
    for await (const message of app.client(NetworkService, tenant).watchEvents(request, { signal: abort.signal })) {
      events.push(message.event!);
      if (events.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

describe("WatchEvents", () => {
  let app: App;
  let acme: ProjectFixture;
  let globex: ProjectFixture;
  before(async () => {
    app = await startApp();
    acme = await createProject(app, "acme");
    globex = await createProject(app, "globex");
    for (const name of ["a", "b", "c"]) {
      await app.client(NetworkService, "acme").addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: `${name}.example.com` });
      await app.client(NetworkService, "globex").addDomain({ workspaceId: globex.workspaceId, projectId: globex.projectId, hostname: `${name}.example.com` });
    }
  });
  after(async () => {
    await app?.stop();
  });

  it("replays a workspace's events in id order and resumes after any id, each event once", async () => {
    const all = await take(app, { workspaceId: acme.workspaceId, afterEventId: 0n, types: ["DomainAdded"] }, 3);
    assert.deepEqual(all.map((e) => e.type), ["DomainAdded", "DomainAdded", "DomainAdded"]);
    assert.deepEqual(all.map((e) => e.data?.hostname), ["a.example.com", "b.example.com", "c.example.com"]);
    assert.ok(all.every((e) => e.workspaceId === acme.workspaceId), "only this workspace");
    assert.ok(all[0]!.id < all[1]!.id && all[1]!.id < all[2]!.id);
    const resumed = await take(app, { workspaceId: acme.workspaceId, afterEventId: all[0]!.id, types: ["DomainAdded"] }, 2);
    assert.deepEqual(resumed.map((e) => e.id), [all[1]!.id, all[2]!.id]);
  });

  it("streams events committed after it opened, and none from before", async () => {
    const before = Number((await app.db.selectFrom("events").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst())?.id ?? 0);
    let received: Event | undefined;
    const live = take(app, { workspaceId: acme.workspaceId, types: ["DomainAdded"] }, 1).then(([event]) => (received = event));
    // The stream starts from the newest id at the moment it opens; keep writing until it sees one.
    const added: string[] = [];
    for (let i = 0; i < 50 && !received; i++) {
      const response = await app.client(NetworkService, "acme").addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: `live-${i}.example.com` });
      added.push(response.domain!.id);
      await Promise.race([live, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    await live;
    assert.ok(received, "the stream delivered a live event");
    assert.ok(Number(received.id) > before, "nothing from before the stream opened");
    assert.ok(added.includes(received.subject));
  });

  it("refuses an unknown event type and another tenant's workspace", async () => {
    const codeOf = async (request: WatchRequest, tenant: "acme" | "globex" = "acme") =>
      take(app, request, 1, tenant).then(
        () => "ok",
        (error: unknown) => Code[ConnectError.from(error).code],
      );
    assert.equal(await codeOf({ workspaceId: acme.workspaceId, types: ["NoSuchEvent"] }), "InvalidArgument");
    assert.equal(await codeOf({ workspaceId: acme.workspaceId, afterEventId: 0n }, "globex"), "NotFound");
    assert.equal(await codeOf({ workspaceId: "" }), "InvalidArgument");
  });
});
