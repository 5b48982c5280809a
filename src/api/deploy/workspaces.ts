import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { isDuplicateKey } from "../../db/errors.js";
import { newId } from "../../db/ids.js";
import {
  type CreateWorkspaceRequest,
  CreateWorkspaceResponseSchema,
  type GetWorkspaceRequest,
  GetWorkspaceResponseSchema,
  type ListWorkspacesRequest,
  ListWorkspacesResponseSchema,
} from "../../gen/ctrl/v1/deploy_pb.js";
import { principalOf } from "../auth.js";
import { decodePageToken, encodePageToken } from "../pagination.js";
import type { ApiDeps } from "../server.js";
import { findWorkspace, requireId } from "../tenancy.js";
import { pageSize, slugField, textField } from "../validation.js";
import { workspaceToProto } from "./toProto.js";

/** Workspaces a tenant may own; creating more answers ResourceExhausted. */
export const MAX_WORKSPACES_PER_TENANT = 100;

export function createWorkspace({ db }: ApiDeps) {
  return async (req: CreateWorkspaceRequest, context: HandlerContext) => {
    const slug = slugField("slug", req.slug);
    const name = textField("name", req.name, 200) || slug;
    const { tenantId } = principalOf(context);
    // A retry (same idempotency key) of a create that already happened returns what it made.
    const existing = await db.selectFrom("workspaces").selectAll().where("slug", "=", slug).executeTakeFirst();
    if (existing) {
      if (existing.tenant_id === tenantId && req.idempotencyKey !== "") return create(CreateWorkspaceResponseSchema, { workspace: workspaceToProto(existing) });
      throw new ConnectError(`slug: workspace slug "${slug}" is taken`, Code.AlreadyExists);
    }
    const count = await db.selectFrom("workspaces").select((eb) => eb.fn.countAll<number>().as("n")).where("tenant_id", "=", tenantId).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_WORKSPACES_PER_TENANT) {
      throw new ConnectError(`tenant already has ${MAX_WORKSPACES_PER_TENANT} workspaces`, Code.ResourceExhausted);
    }
    const id = newId("ws");
    try {
      await db.insertInto("workspaces").values({ id, tenant_id: tenantId, slug, name }).execute();
    } catch (error) {
      if (isDuplicateKey(error)) throw new ConnectError(`slug: workspace slug "${slug}" is taken`, Code.AlreadyExists);
      throw error;
    }
    return create(CreateWorkspaceResponseSchema, { workspace: workspaceToProto(await findWorkspace(db, tenantId, id)) });
  };
}

export function getWorkspace({ db }: ApiDeps) {
  return async (req: GetWorkspaceRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    return create(GetWorkspaceResponseSchema, { workspace: workspaceToProto(await findWorkspace(db, principalOf(context).tenantId, req.workspaceId)) });
  };
}

export function listWorkspaces({ db }: ApiDeps) {
  return async (req: ListWorkspacesRequest, context: HandlerContext) => {
    const size = pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    const position = decodePageToken(req.pageToken, { rpc: "ListWorkspaces", tenantId });
    let query = db.selectFrom("workspaces").selectAll().where("tenant_id", "=", tenantId);
    if (position) query = query.where("id", ">", position.id);
    const rows = await query.orderBy("id").limit(size + 1).execute();
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return create(ListWorkspacesResponseSchema, {
      workspaces: page.map(workspaceToProto),
      nextPageToken: rows.length > size && last ? encodePageToken({ after: "", id: last.id }, { rpc: "ListWorkspaces", tenantId }) : "",
    });
  };
}
