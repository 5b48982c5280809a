import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { JsonObject } from "@bufbuild/protobuf";
import { EVENT_TYPES } from "../../db/eventTypes.js";
import { readEvents } from "../../db/events.js";
import { prunedThrough } from "../../db/retention.js";
import { EventSchema, WatchEventsResponseSchema, type WatchEventsRequest, type WatchEventsResponse } from "../../gen/ctrl/v1/network_pb.js";
import { abortableSleep } from "../abortableSleep.js";
import { principalOf } from "../auth.js";
import { invalidArgument } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { findWorkspace, requireId } from "../tenancy.js";

// WatchEvents: a workspace's outbox events in id order, each once. Event ids are allocated in the
// writing transaction from a gap-free counter (src/db/sequences.ts), so ids commit in order and
// polling `id > cursor` never skips one; a client resumes with the last id it received.

const POLL_MS = 200;
const BATCH = 500;

export function watchEvents({ db }: ApiDeps) {
  return async function* (req: WatchEventsRequest, context: HandlerContext): AsyncGenerator<WatchEventsResponse> {
    requireId("workspace_id", req.workspaceId);
    const unknown = req.types.filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
    if (unknown.length > 0) throw invalidArgument("types", `unknown event type ${unknown.map((t) => JSON.stringify(t)).join(", ")} (known: ${EVENT_TYPES.join(", ")})`);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    let cursor =
      req.afterEventId !== undefined
        ? Number(req.afterEventId)
        : Number((await db.selectFrom("events").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst())?.id ?? 0);
    // Events up to `pruned` are gone (src/db/retention.ts): resuming below it would skip some.
    const pruned = await prunedThrough(db, "events");
    if (req.afterEventId !== undefined && cursor < pruned) {
      throw new ConnectError(`after_event_id ${cursor} is older than the retained events; the oldest retained id is ${pruned + 1}`, Code.FailedPrecondition);
    }
    const filter = { tenantId, workspaceId: req.workspaceId, ...(req.types.length > 0 ? { types: req.types } : {}) };
    while (!context.signal.aborted) {
      const events = await readEvents(db, cursor, BATCH, filter);
      for (const event of events) {
        cursor = event.id;
        yield create(WatchEventsResponseSchema, {
          event: create(EventSchema, {
            id: BigInt(event.id),
            type: event.type,
            workspaceId: event.workspaceId ?? "",
            subject: event.subject,
            data: (event.payload ?? {}) as JsonObject,
            createTime: timestampFromDate(event.createdAt),
          }),
        });
      }
      if (events.length < BATCH) await abortableSleep(POLL_MS, context.signal);
    }
  };
}
