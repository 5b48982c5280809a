import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { EVENT_TYPES } from "../../db/eventTypes.js";
import { judgeAddress, parseIpLiteral, withinRanges, type AddressRanges } from "../../domain/addressRanges.js";
import { newId } from "../../db/ids.js";
import { fromJson, toJson } from "../../db/schema.js";
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
import { idempotent, idempotentSend, viaIngress } from "../../restate/ingress.js";
import { scopedKey } from "../idempotency.js";
import { webhookApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { invalidArgument } from "../errors.js";
import { keysetPage } from "../pagination.js";
import type { ApiDeps } from "../deps.js";
import { findWebhookEndpoint, findWorkspace, requireId } from "../tenancy.js";
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

/**
 * An absolute https URL, or plain http to an address inside the operator's allowed ranges (a
 * receiver on the operator's own network). An IP literal, in any notation the URL parser
 * normalises (127.1, 0x7f000001, 2130706433), must be one the platform may reach; names are
 * judged after resolution, on every delivery (src/net/guardedFetch.ts).
 */
function webhookUrl(raw: string, ranges: AddressRanges): string {
  if (raw.trim() === "") throw invalidArgument("url", "is required");
  if (raw.length > 2048) throw invalidArgument("url", "is longer than 2048 characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument("url", "is not an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalidArgument("url", "must use https");
  if (url.username || url.password) throw invalidArgument("url", "must not carry credentials");
  if (!/^[\x21-\x7e]+$/.test(url.toString())) throw invalidArgument("url", "must be ASCII once encoded");
  const literal = parseIpLiteral(url.hostname);
  if (literal) {
    const verdict = judgeAddress(literal.toString(), ranges);
    if (!verdict.allowed) throw invalidArgument("url", verdict.reason);
  }
  if (url.protocol === "http:" && !(literal && withinRanges(literal.toString(), ranges))) {
    throw invalidArgument("url", "must use https (plain http only to an address in SWITCHYARD_OUTBOUND_ALLOWED_RANGES)");
  }
  return url.toString();
}

function eventTypes(types: readonly string[]): string[] | null {
  const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0) throw invalidArgument("event_types", `unknown event type ${unknown.map((t) => JSON.stringify(t)).join(", ")}`);
  return types.length > 0 ? [...new Set(types)] : null;
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

export function createWebhookEndpoint({ db, ingress, config }: ApiDeps) {
  return async (req: CreateWebhookEndpointRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    const url = webhookUrl(req.url, config.outboundAllowedRanges);
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
    const row = await findWebhookEndpoint(db, tenantId, id);
    return create(CreateWebhookEndpointResponseSchema, { endpoint: endpointToProto(row), secret });
  };
}

export function listWebhookEndpoints({ db, config }: ApiDeps) {
  return async (req: ListWebhookEndpointsRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    const page = await keysetPage(
      db.selectFrom("webhook_endpoints").selectAll().where("tenant_id", "=", tenantId).where("workspace_id", "=", req.workspaceId),
      { config, pageToken: req.pageToken, pageSize: req.pageSize, filters: { rpc: "ListWebhookEndpoints", tenantId, workspaceId: req.workspaceId } },
      [{ column: "id", order: "asc", type: "string", value: (row) => row.id }],
    );
    return create(ListWebhookEndpointsResponseSchema, { endpoints: page.rows.map(endpointToProto), nextPageToken: page.nextPageToken });
  };
}

export function deleteWebhookEndpoint({ ingress, logger }: ApiDeps) {
  return async (req: DeleteWebhookEndpointRequest, context: HandlerContext) => {
    requireId("endpoint_id", req.endpointId);
    const { tenantId } = principalOf(context);
    // The endpoint's object deletes the row: a retry with the same idempotency key gets the first
    // answer from Restate, and anyone else's call on an endpoint that is not theirs (or gone) is
    // NotFound. Its delivery rows go with it (ON DELETE CASCADE); a delivery in flight ends.
    const options = idempotent<{ tenantId: string }, { removed: true }>(scopedKey(context, "delete-webhook-endpoint", req.idempotencyKey));
    await viaIngress(() => ingress.objectClient(webhookApi, req.endpointId).remove({ tenantId }, options));
    await ingress
      .objectSendClient(webhookApi, req.endpointId)
      .stop({}, idempotentSend(`webhook-stop/${req.endpointId}`))
      .catch((error: unknown) => logger.warn({ err: error, endpointId: req.endpointId }, "could not stop the webhook pump; it stops when it finds the endpoint gone"));
    return create(DeleteWebhookEndpointResponseSchema, {});
  };
}

export function listWebhookDeliveries({ db, config }: ApiDeps) {
  return async (req: ListWebhookDeliveriesRequest, context: HandlerContext) => {
    requireId("endpoint_id", req.endpointId);
    pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findWebhookEndpoint(db, tenantId, req.endpointId);
    const status = Object.entries(STATUS).find(([, value]) => value === req.status)?.[0];
    if (req.status !== WebhookDeliveryStatus.UNSPECIFIED && !status) throw invalidArgument("status", "is not a delivery status");
    const filters = { rpc: "ListWebhookDeliveries", tenantId, endpointId: req.endpointId, status: req.status };
    let query = db
      .selectFrom("webhook_deliveries as d")
      .innerJoin("events as e", "e.id", "d.event_id")
      .select(["d.id", "d.endpoint_id", "d.event_id", "d.attempt", "d.status", "d.response_code", "d.error", "d.next_attempt_at", "d.created_at", "e.type"])
      .where("d.endpoint_id", "=", req.endpointId);
    if (status) query = query.where("d.status", "=", status);
    // Newest first: by event, then attempt, descending.
    const page = await keysetPage(query, { config, pageToken: req.pageToken, pageSize: req.pageSize, filters }, [
      { column: "d.event_id", order: "desc", type: "int", value: (row) => Number(row.event_id) },
      { column: "d.attempt", order: "desc", type: "int", value: (row) => row.attempt },
    ]);
    return create(ListWebhookDeliveriesResponseSchema, {
      deliveries: page.rows.map((d) =>
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
      nextPageToken: page.nextPageToken,
    });
  };
}
