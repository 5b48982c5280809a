import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { EVENT_TYPES } from "../../db/eventTypes.js";
import { newId } from "../../db/ids.js";
import { fromJson, toJson, type Database } from "../../db/schema.js";
import {
  CreateWebhookEndpointResponseSchema,
  DeleteWebhookEndpointResponseSchema,
  ListWebhookDeliveriesResponseSchema,
  ListWebhookEndpointsResponseSchema,
  WebhookDeliverySchema,
  WebhookDeliveryStatus,
  WebhookEndpointSchema,
  type CreateWebhookEndpointRequest,
  type DeleteWebhookEndpointRequest,
  type ListWebhookDeliveriesRequest,
  type ListWebhookEndpointsRequest,
} from "../../gen/ctrl/v1/network_pb.js";
import { idempotentSend, viaIngress } from "../../restate/ingress.js";
import { webhookApi } from "../../../workflows/webhook.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { decodePageToken, encodePageToken } from "../pagination.js";
import type { ApiDeps } from "../server.js";
import { findWorkspace, requireId } from "../tenancy.js";
import { pageSize } from "../validation.js";

// Webhook endpoints of a workspace; the deliveries themselves are the WebhookEndpoint object's
// (workflows/webhook.ts). The signing secret is shown once, at creation.

/** Endpoints a workspace may have; more answer ResourceExhausted. */
export const MAX_WEBHOOK_ENDPOINTS = 20;

const STATUS: Record<string, WebhookDeliveryStatus> = {
  succeeded: WebhookDeliveryStatus.SUCCEEDED,
  failed: WebhookDeliveryStatus.FAILED,
  abandoned: WebhookDeliveryStatus.ABANDONED,
};

/** An absolute https URL; plain http only to a loopback address (a receiver on this machine). */
function webhookUrl(raw: string): string {
  if (raw.trim() === "") throw invalidArgument("url", "is required");
  if (raw.length > 2048) throw invalidArgument("url", "is longer than 2048 characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument("url", "is not an absolute URL");
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || (isIP(host) === 4 && host.startsWith("127.")) || host === "::1";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw invalidArgument("url", "must use https (http only for a loopback address)");
  if (url.username || url.password) throw invalidArgument("url", "must not carry credentials");
  return url.toString();
}

function eventTypes(types: readonly string[]): string[] | null {
  const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) throw invalidArgument("event_types", `unknown event type ${unknown.map((t) => JSON.stringify(t)).join(", ")}`);
  return types.length > 0 ? [...new Set(types)] : null;
}

async function findEndpoint(db: Kysely<Database>, tenantId: string, endpointId: string) {
  const row = await db.selectFrom("webhook_endpoints").selectAll().where("id", "=", endpointId).where("tenant_id", "=", tenantId).executeTakeFirst();
  if (!row) throw notFound("webhook endpoint", endpointId);
  return row;
}

function endpointToProto(row: { id: string; workspace_id: string; url: string; event_types: string | null; enabled: boolean; created_at: Date }) {
  return create(WebhookEndpointSchema, {
    id: row.id,
    workspaceId: row.workspace_id,
    url: row.url,
    eventTypes: row.event_types ? fromJson<string[]>(row.event_types) : [],
    enabled: row.enabled,
    createTime: timestampFromDate(row.created_at),
  });
}

export function createWebhookEndpoint({ db, ingress }: ApiDeps) {
  return async (req: CreateWebhookEndpointRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const url = webhookUrl(req.url);
    const types = eventTypes(req.eventTypes);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    const count = await db.selectFrom("webhook_endpoints").select((eb) => eb.fn.countAll<number>().as("n")).where("workspace_id", "=", req.workspaceId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_WEBHOOK_ENDPOINTS) {
      throw new ConnectError(`workspace ${req.workspaceId} already has ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints`, Code.ResourceExhausted);
    }
    const id = newId("whk");
    const secret = `whsec_${randomBytes(32).toString("hex")}`;
    const newest = await db.selectFrom("events").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst();
    await db.insertInto("webhook_endpoints").values({ id, tenant_id: tenantId, workspace_id: req.workspaceId, url, secret, event_types: types ? toJson(types) : null }).execute();
    // Deliveries start with the events after this moment. If restate-server is unreachable the
    // endpoint is removed again and the caller may retry.
    try {
      await viaIngress(() => ingress.objectSendClient(webhookApi, id).start({ afterEventId: Number(newest?.id ?? 0) }, idempotentSend(`webhook-start/${id}`)));
    } catch (error) {
      await db.deleteFrom("webhook_endpoints").where("id", "=", id).execute();
      throw error;
    }
    const row = await findEndpoint(db, tenantId, id);
    return create(CreateWebhookEndpointResponseSchema, { endpoint: endpointToProto(row), secret });
  };
}

export function listWebhookEndpoints({ db }: ApiDeps) {
  return async (req: ListWebhookEndpointsRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const size = pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    const filters = { rpc: "ListWebhookEndpoints", tenantId, workspaceId: req.workspaceId };
    const position = decodePageToken(req.pageToken, filters);
    let query = db.selectFrom("webhook_endpoints").selectAll().where("tenant_id", "=", tenantId).where("workspace_id", "=", req.workspaceId);
    if (position) query = query.where("id", ">", position.id);
    const rows = await query.orderBy("id").limit(size + 1).execute();
    const page = rows.slice(0, size);
    return create(ListWebhookEndpointsResponseSchema, {
      endpoints: page.map(endpointToProto),
      nextPageToken: rows.length > size ? encodePageToken({ after: "", id: page.at(-1)!.id }, filters) : "",
    });
  };
}

export function deleteWebhookEndpoint({ db, ingress, logger }: ApiDeps) {
  return async (req: DeleteWebhookEndpointRequest, context: HandlerContext) => {
    requireId("endpoint_id", req.endpointId);
    const { tenantId } = principalOf(context);
    const row = await db.selectFrom("webhook_endpoints").select("id").where("id", "=", req.endpointId).where("tenant_id", "=", tenantId).executeTakeFirst();
    if (!row) {
      // A retry of a delete that happened is a success; anything else is NotFound.
      if (req.idempotencyKey !== "") return create(DeleteWebhookEndpointResponseSchema, {});
      throw notFound("webhook endpoint", req.endpointId);
    }
    // Its delivery rows go with it (ON DELETE CASCADE); the object finds it gone and stops.
    await db.deleteFrom("webhook_endpoints").where("id", "=", row.id).execute();
    await ingress
      .objectSendClient(webhookApi, row.id)
      .stop({}, idempotentSend(`webhook-stop/${row.id}`))
      .catch((error: unknown) => logger.warn({ err: error, endpointId: row.id }, "could not stop the webhook pump; it stops when it finds the endpoint gone"));
    return create(DeleteWebhookEndpointResponseSchema, {});
  };
}

export function listWebhookDeliveries({ db }: ApiDeps) {
  return async (req: ListWebhookDeliveriesRequest, context: HandlerContext) => {
    requireId("endpoint_id", req.endpointId);
    const size = pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findEndpoint(db, tenantId, req.endpointId);
    const status = Object.entries(STATUS).find(([, value]) => value === req.status)?.[0];
    if (req.status !== WebhookDeliveryStatus.UNSPECIFIED && !status) throw invalidArgument("status", "is not a delivery status");
    const filters = { rpc: "ListWebhookDeliveries", tenantId, endpointId: req.endpointId, status: req.status };
    const position = decodePageToken(req.pageToken, filters);
    let query = db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("events as e", "e.id", "d.event_id")
      .select(["d.id", "d.endpoint_id", "d.event_id", "d.attempt", "d.status", "d.response_code", "d.error", "d.next_attempt_at", "d.created_at", "e.type"])
      .where("d.endpoint_id", "=", req.endpointId);
    if (status) query = query.where("d.status", "=", status);
    // Newest first: by event, then attempt, descending; the token holds the last (event, attempt).
    if (position) {
      const [eventId, attempt] = position.after.split("/").map(Number) as [number, number];
      query = query.where((eb) => eb.or([eb("d.event_id", "<", eventId), eb.and([eb("d.event_id", "=", eventId), eb("d.attempt", "<", attempt)])]));
    }
    const rows = await query.orderBy("d.event_id", "desc").orderBy("d.attempt", "desc").limit(size + 1).execute();
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return create(ListWebhookDeliveriesResponseSchema, {
      deliveries: page.map((d) =>
        create(WebhookDeliverySchema, {
          id: d.id,
          endpointId: d.endpoint_id,
          eventId: BigInt(d.event_id),
          eventType: d.type,
          attempt: d.attempt,
          status: STATUS[d.status] ?? WebhookDeliveryStatus.UNSPECIFIED,
          responseCode: d.response_code ?? 0,
          error: d.error ?? "",
          nextAttemptTime: d.next_attempt_at ? timestampFromDate(d.next_attempt_at) : undefined,
          createTime: timestampFromDate(d.created_at),
        }),
      ),
      nextPageToken: rows.length > size && last ? encodePageToken({ after: `${last.event_id}/${last.attempt}`, id: last.id }, filters) : "",
    });
  };
}
