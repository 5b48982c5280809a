import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { fromJson, type Database } from "../../db/schema.js";
import {
  DeploymentStateSchema,
  DesiredStatus,
  type GetDesiredDeploymentStateRequest,
  GetDesiredDeploymentStateResponseSchema,
  type WatchDeploymentsRequest,
  type WatchDeploymentsResponse,
  WatchDeploymentsResponseSchema,
  type WatchGatewayConfigsRequest,
  type WatchGatewayConfigsResponse,
  WatchGatewayConfigsResponseSchema,
} from "../../gen/ctrl/v1/cluster_pb.js";
import type { GatewayConfigBody } from "../../routing/gatewayConfig.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { requireId } from "../tenancy.js";
import type { ApiDeps } from "../server.js";
import { abortableSleep } from "../abortableSleep.js";
import { gatewayConfigToProto } from "../gatewayConfigToProto.js";

// The watch protocol of ClusterService: from version 0, a snapshot of the current state (read in
// one consistent transaction together with the feed position it reflects), a bootstrap_complete
// marker, then every later change in version order; from version v > 0, the changes after v.
// Versions are gap-free and commit in order (src/db/sequences.ts), so polling `version > cursor`
// never skips a change. Each stream sees only its tenant's resources.

const POLL_MS = 200;
const BATCH = 500;

const DESIRED: Record<string, DesiredStatus> = { running: DesiredStatus.RUNNING, standby: DesiredStatus.STANDBY, stopped: DesiredStatus.STOPPED };

type Kind = "gateway_config" | "deployment_topology";

export function watchGatewayConfigs(deps: ApiDeps) {
  return async function* (req: WatchGatewayConfigsRequest, context: HandlerContext): AsyncGenerator<WatchGatewayConfigsResponse> {
    checkRegion(deps, req.region);
    const tenantId = principalOf(context).tenantId;
    let cursor = await startingPoint(deps.db, req.fromVersion);
    if (req.fromVersion === 0n) {
      const snapshot = await deps.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        const version = await feedPosition(trx);
        const rows = await trx
          .selectFrom("gateway_configs")
          .innerJoin("workspaces", "workspaces.id", "gateway_configs.workspace_id")
          .selectAll("gateway_configs")
          .where("workspaces.tenant_id", "=", tenantId)
          .orderBy("gateway_configs.hostname")
          .execute();
        return { version, rows };
      });
      for (const row of snapshot.rows) {
        yield create(WatchGatewayConfigsResponseSchema, {
          version: BigInt(row.version),
          change: { case: "upsert", value: gatewayConfigToProto(fromJson<GatewayConfigBody>(row.config), Number(row.version), row.updated_at) },
        });
      }
      yield create(WatchGatewayConfigsResponseSchema, {
        version: BigInt(snapshot.version),
        change: { case: "bootstrapComplete", value: { resourceCount: snapshot.rows.length } },
      });
      cursor = snapshot.version;
    }
    for await (const change of follow(deps.db, tenantId, "gateway_config", undefined, cursor, context.signal)) {
      yield create(WatchGatewayConfigsResponseSchema, {
        version: BigInt(change.version),
        change: change.deleted
          ? { case: "tombstone", value: { hostname: change.resourceKey } }
          : { case: "upsert", value: gatewayConfigToProto(change.payload as GatewayConfigBody, change.version, change.createdAt) },
      });
    }
  };
}

export function watchDeployments(deps: ApiDeps) {
  return async function* (req: WatchDeploymentsRequest, context: HandlerContext): AsyncGenerator<WatchDeploymentsResponse> {
    checkRegion(deps, req.region);
    const tenantId = principalOf(context).tenantId;
    let cursor = await startingPoint(deps.db, req.fromVersion);
    if (req.fromVersion === 0n) {
      const snapshot = await deps.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        const version = await feedPosition(trx);
        const rows = await topology(trx).where("w.tenant_id", "=", tenantId).where("t.region", "=", req.region).orderBy("t.deployment_id").execute();
        return { version, rows };
      });
      for (const row of snapshot.rows) {
        yield create(WatchDeploymentsResponseSchema, { version: BigInt(row.version), change: { case: "upsert", value: deploymentState(row) } });
      }
      yield create(WatchDeploymentsResponseSchema, {
        version: BigInt(snapshot.version),
        change: { case: "bootstrapComplete", value: { resourceCount: snapshot.rows.length } },
      });
      cursor = snapshot.version;
    }
    for await (const change of follow(deps.db, tenantId, "deployment_topology", req.region, cursor, context.signal)) {
      const [deploymentId] = change.resourceKey.split("/");
      const row = await topology(deps.db).where("t.deployment_id", "=", deploymentId!).where("t.region", "=", req.region).executeTakeFirst();
      yield create(WatchDeploymentsResponseSchema, {
        version: BigInt(change.version),
        change: row
          ? { case: "upsert", value: { ...deploymentState(row), version: BigInt(change.version) } }
          : { case: "tombstone", value: { deploymentId: deploymentId!, region: req.region } },
      });
    }
  };
}

function checkRegion(deps: ApiDeps, region: string) {
  if (!deps.config.regions.includes(region)) {
    throw invalidArgument("region", `unknown region "${region.slice(0, 64)}"; known: ${deps.config.regions.join(", ")}`);
  }
}

async function feedPosition(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom("sequences").select("value").where("name", "=", "changes").executeTakeFirstOrThrow();
  return Number(row.value);
}

async function startingPoint(db: Kysely<Database>, fromVersion: bigint): Promise<number> {
  const position = await feedPosition(db);
  if (fromVersion > BigInt(position)) {
    throw new ConnectError(`from_version ${fromVersion} is ahead of the feed (at ${position}); restart from 0`, Code.FailedPrecondition);
  }
  return Number(fromVersion);
}

/** Changes of one kind after `cursor`, for the tenant, until the stream is cancelled. */
async function* follow(db: Kysely<Database>, tenantId: string, kind: Kind, region: string | undefined, cursor: number, signal: AbortSignal) {
  while (!signal.aborted) {
    let query = db
      .selectFrom("changes as c")
      .innerJoin("projects as p", "p.id", "c.project_id")
      .innerJoin("workspaces as w", "w.id", "p.workspace_id")
      .select(["c.version", "c.resource_key", "c.deleted", "c.payload", "c.created_at"])
      .where("c.version", ">", cursor)
      .where("c.kind", "=", kind)
      .where("w.tenant_id", "=", tenantId);
    if (region) query = query.where("c.region", "=", region);
    const rows = await query.orderBy("c.version").limit(BATCH).execute();
    for (const row of rows) {
      cursor = Number(row.version);
      yield { version: cursor, resourceKey: row.resource_key, deleted: row.deleted, payload: fromJson(row.payload), createdAt: row.created_at };
    }
    // Changes of other kinds or tenants advance nothing here; the next poll starts from the cursor.
    if (rows.length < BATCH) await abortableSleep(POLL_MS, signal);
  }
}

/** GetDesiredDeploymentState: one deployment's desired state in one region. */
export function getDesiredDeploymentState(deps: ApiDeps) {
  return async (req: GetDesiredDeploymentStateRequest, context: HandlerContext) => {
    requireId("deployment_id", req.deploymentId);
    checkRegion(deps, req.region);
    const row = await topology(deps.db)
      .where("t.deployment_id", "=", req.deploymentId)
      .where("t.region", "=", req.region)
      .where("w.tenant_id", "=", principalOf(context).tenantId)
      .executeTakeFirst();
    if (!row) throw notFound("desired state of deployment", `${req.deploymentId} in region ${req.region}`);
    return create(GetDesiredDeploymentStateResponseSchema, { state: deploymentState(row) });
  };
}

function topology(db: Kysely<Database>) {
  return db
    .selectFrom("deployment_topology as t")
    .innerJoin("deployments as d", "d.id", "t.deployment_id")
    .innerJoin("workspaces as w", "w.id", "d.workspace_id")
    .select([
      "t.deployment_id",
      "t.region",
      "t.desired_status",
      "t.replicas",
      "t.version",
      "d.workspace_id",
      "d.project_id",
      "d.environment_id",
      "d.image",
      "d.command",
      "d.port",
      "d.env",
    ]);
}

type TopologyRow = Awaited<ReturnType<ReturnType<typeof topology>["executeTakeFirstOrThrow"]>>;

function deploymentState(row: TopologyRow) {
  return create(DeploymentStateSchema, {
    deploymentId: row.deployment_id,
    workspaceId: row.workspace_id,
    projectId: row.project_id,
    environmentId: row.environment_id,
    region: row.region,
    desiredStatus: DESIRED[row.desired_status] ?? DesiredStatus.UNSPECIFIED,
    replicas: row.replicas,
    image: row.image ?? "",
    command: fromJson<string[]>(row.command) ?? [],
    port: row.port ?? 0,
    env: fromJson<Record<string, string>>(row.env) ?? {},
    version: BigInt(row.version),
  });
}

