import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { Change } from "../../db/changes.js";
import { currentChangeVersion } from "../../db/changes.js";
import { prunedThrough } from "../../db/retention.js";
import { fromJson, type Database, type DesiredStatus as DesiredStatusText } from "../../db/schema.js";
import { ChangesPruned, FeedUnavailable, StreamFellBehind } from "../../cluster/feedTailer.js";
import { specOf, type DeploymentSpec, type DeploymentSpecs } from "../../cluster/deploymentSpecs.js";
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
import { notFound } from "../errors.js";
import { requireId } from "../tenancy.js";
import type { ApiDeps } from "../deps.js";
import { gatewayConfigToProto } from "../gatewayConfigToProto.js";
import { agentRegion } from "./region.js";
import { watchPropagationLag, watchStarts, watchStreams } from "../../telemetry/metrics.js";

// The watch protocol of ClusterService: from version 0, a snapshot of the region's current state
// across every tenant (read in one consistent transaction together with the feed position it
// reflects), a bootstrap_complete marker, then every later change in version order; from
// version v > 0, the changes after v. The changes come from the process's one feed tailer
// (src/cluster/feedTailer.ts), shared by every stream; only agents (region credentials) get here.

const DESIRED: Record<string, DesiredStatus> = { running: DesiredStatus.RUNNING, standby: DesiredStatus.STANDBY, stopped: DesiredStatus.STOPPED };

/** What a topology change carries (src/db/topology.ts bumpTopologyVersions). */
interface TopologyPayload {
  deploymentId: string;
  region: string;
  desiredStatus: DesiredStatusText;
  replicas: number;
}

export function watchGatewayConfigs(deps: ApiDeps) {
  return async function* (req: WatchGatewayConfigsRequest, context: HandlerContext): AsyncGenerator<WatchGatewayConfigsResponse> {
    const region = agentRegion(deps, context, req.region);
    let cursor = await startingPoint(deps.db, req.fromVersion);
    using _connected = connectedStream("gateway_configs", cursor);
    if (cursor === 0) {
      const snapshot = await deps.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        const version = await currentChangeVersion(trx);
        const rows = await trx.selectFrom("gateway_configs").selectAll().orderBy("hostname").execute();
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
    try {
      for await (const change of deps.feed.follow(cursor, { kinds: ["gateway_config"], region }, context.signal)) {
        observeLag("gateway_configs", change);
        yield create(WatchGatewayConfigsResponseSchema, {
          version: BigInt(change.version),
          change: change.deleted
            ? { case: "tombstone", value: { hostname: change.resourceKey } }
            : { case: "upsert", value: gatewayConfigToProto(change.payload as GatewayConfigBody, change.version, change.createdAt) },
        });
      }
    } catch (error) {
      throw feedError(error);
    }
  };
}

export function watchDeployments(deps: ApiDeps, specs: DeploymentSpecs) {
  // Every stream of a region sends the same message for a change: built once, by the first to
  // need it, and taken without an await by the others.
  const recent = new Map<string, WatchDeploymentsResponse>();
  const build = async (change: Change, region: string): Promise<WatchDeploymentsResponse> => {
    const payload = change.payload as TopologyPayload | null;
    const deploymentId = payload?.deploymentId ?? change.resourceKey.split("/")[0]!;
    const spec = change.deleted ? undefined : await specs.get(deploymentId);
    const message = create(WatchDeploymentsResponseSchema, {
      version: BigInt(change.version),
      change:
        spec && payload
          ? { case: "upsert", value: stateOf(spec, region, payload.desiredStatus, payload.replicas, change.version) }
          : { case: "tombstone", value: { deploymentId, region } },
    });
    recent.set(`${region}/${change.version}`, message);
    if (recent.size > 256) recent.delete(recent.keys().next().value!);
    return message;
  };

  return async function* (req: WatchDeploymentsRequest, context: HandlerContext): AsyncGenerator<WatchDeploymentsResponse> {
    const region = agentRegion(deps, context, req.region);
    let cursor = await startingPoint(deps.db, req.fromVersion);
    using _connected = connectedStream("deployments", cursor);
    if (cursor === 0) {
      const snapshot = await deps.db.transaction().setIsolationLevel("repeatable read").execute(async (trx) => {
        const version = await currentChangeVersion(trx);
        const rows = await topology(trx).where("t.region", "=", region).orderBy("t.deployment_id").execute();
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
    try {
      for await (const change of deps.feed.follow(cursor, { kinds: ["deployment_topology"], region }, context.signal)) {
        observeLag("deployments", change);
        yield recent.get(`${region}/${change.version}`) ?? (await build(change, region));
      }
    } catch (error) {
      throw feedError(error);
    }
  };
}

type Stream = "deployments" | "gateway_configs";

/** Counts a stream as connected until it ends (the `using` scope of its generator). */
function connectedStream(stream: Stream, from: number): Disposable {
  watchStarts.inc({ stream, mode: from === 0 ? "bootstrap" : "resume" });
  watchStreams.inc({ stream });
  return { [Symbol.dispose]: () => watchStreams.dec({ stream }) };
}

/** Commit (the change row's time) → handed to the stream. */
function observeLag(stream: Stream, change: Change): void {
  watchPropagationLag.observe({ stream }, Math.max(0, Date.now() - change.createdAt.getTime()) / 1000);
}

/** The resume point: 0 (bootstrap) or a version within the retained, already written feed. */
async function startingPoint(db: Kysely<Database>, fromVersion: bigint): Promise<number> {
  const position = await currentChangeVersion(db);
  if (fromVersion > BigInt(position)) {
    throw new ConnectError(`from_version ${fromVersion} is ahead of the feed (at ${position}); restart from 0`, Code.FailedPrecondition);
  }
  const from = Number(fromVersion);
  if (from > 0) {
    const pruned = await prunedThrough(db, "changes");
    if (from < pruned) throw new ConnectError(new ChangesPruned(from, pruned).message, Code.FailedPrecondition);
  }
  return from;
}

/** The feed tailer's failures as the Connect codes the watch protocol promises. */
function feedError(error: unknown): unknown {
  if (error instanceof ChangesPruned) return new ConnectError(error.message, Code.FailedPrecondition);
  if (error instanceof StreamFellBehind) return new ConnectError(error.message, Code.ResourceExhausted);
  if (error instanceof FeedUnavailable) return new ConnectError(error.message, Code.Unavailable);
  return error;
}

/** GetDesiredDeploymentState: one deployment's desired state in the agent's region. */
export function getDesiredDeploymentState(deps: ApiDeps) {
  return async (req: GetDesiredDeploymentStateRequest, context: HandlerContext) => {
    requireId("deployment_id", req.deploymentId);
    const region = agentRegion(deps, context, req.region);
    const row = await topology(deps.db).where("t.deployment_id", "=", req.deploymentId).where("t.region", "=", region).executeTakeFirst();
    if (!row) throw notFound("desired state of deployment", `${req.deploymentId} in region ${region}`);
    return create(GetDesiredDeploymentStateResponseSchema, { state: deploymentState(row) });
  };
}

function topology(db: Kysely<Database>) {
  return db
    .selectFrom("deployment_topology as t")
    .innerJoin("deployments as d", "d.id", "t.deployment_id")
    .select([
      "t.deployment_id",
      "t.region",
      "t.desired_status",
      "t.replicas",
      "t.version",
      "d.id",
      "d.workspace_id",
      "d.project_id",
      "d.environment_id",
      "d.image",
      "d.command",
      "d.port",
      "d.env",
      "d.health_check_path",
      "d.startup_timeout_ms",
    ]);
}

type TopologyRow = Awaited<ReturnType<ReturnType<typeof topology>["executeTakeFirstOrThrow"]>>;

function deploymentState(row: TopologyRow) {
  return stateOf(specOf(row), row.region, row.desired_status, row.replicas, Number(row.version));
}

function stateOf(spec: DeploymentSpec, region: string, desired: string, replicas: number, version: number) {
  return create(DeploymentStateSchema, {
    ...spec,
    region,
    desiredStatus: DESIRED[desired] ?? DesiredStatus.UNSPECIFIED,
    replicas,
    version: BigInt(version),
  });
}
