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
import { keysetPage } from "../pagination.js";
import type { ApiDeps } from "../deps.js";
import { findWorkspace, requireId } from "../tenancy.js";
import { slugField, textField } from "../validation.js";
import { workspaceToProto } from "./toProto.js";

/** Workspaces a tenant may own; creating more answers ResourceExhausted. */
export const MAX_WORKSPACES_PER_TENANT = 100;

export function createWorkspace({ db }: ApiDeps) {
  return async (req: CreateWorkspaceRequest, context: HandlerContext) => {
    const slug = slugField("slug", req.slug);
    const name = textField("name", req.name, 200, true).trim();
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

export function listWorkspaces({ db, config }: ApiDeps) {
  return async (req: ListWorkspacesRequest, context: HandlerContext) => {
    const { tenantId } = principalOf(context);
    const page = await keysetPage(
      db.selectFrom("workspaces").selectAll().where("tenant_id", "=", tenantId),
      { config, pageToken: req.pageToken, pageSize: req.pageSize, filters: { rpc: "ListWorkspaces", tenantId } },
      [{ column: "id", order: "asc", type: "string", value: (row) => row.id }],
    );
    return create(ListWorkspacesResponseSchema, { workspaces: page.rows.map(workspaceToProto), nextPageToken: page.nextPageToken });
  };
}
