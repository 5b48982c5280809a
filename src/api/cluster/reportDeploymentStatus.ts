import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  InstanceStatus,
  RegionDeploymentStatus,
  type ReportDeploymentStatusRequest,
  type ReportDeploymentStatusResponse,
  ReportDeploymentStatusResponseSchema,
} from "../../gen/ctrl/v1/cluster_pb.js";
import { allRegionsRunning, replaceInstances, type ReportedInstance } from "../../db/instances.js";
import { retryTransient } from "../../db/retry.js";
import { checkInstanceAddress } from "../../domain/instanceAddress.js";
import { refreshUpstreams } from "../../routing/refreshUpstreams.js";
import { viaIngress } from "../../restate/ingress.js";
import { invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { requireId } from "../tenancy.js";
import { textField } from "../validation.js";
import { agentRegion } from "./region.js";
import { agentReportDuration, agentReports } from "../../telemetry/metrics.js";

const INSTANCE_STATUS: Partial<Record<InstanceStatus, ReportedInstance["status"]>> = {
  [InstanceStatus.PENDING]: "pending",
  [InstanceStatus.RUNNING]: "running",
  [InstanceStatus.FAILED]: "failed",
  [InstanceStatus.STOPPED]: "stopped",
};

const MAX_INSTANCES = 1000;

/**
 * An agent reports what runs in its region. The report replaces the deployment's instances in
 * that region (rows of other deployments are out of reach: they are keyed by deployment); once
 * every region of the deployment has a running instance the Deployment workflow's awakeable is
 * resolved, and a FAILED region rejects it with the agent's message. Reports are idempotent:
 * repeating one changes nothing, an older one (by observed_version) is ignored, and a report
 * after the workflow moved on only updates the instances.
 */
export function reportDeploymentStatus(deps: ApiDeps) {
  return async (req: ReportDeploymentStatusRequest, context: HandlerContext): Promise<ReportDeploymentStatusResponse> => {
    const started = performance.now();
    const outcome = await processReport(deps, req, context).catch((error: unknown) => {
      agentReports.inc({ outcome: "refused" });
      throw error;
    });
    agentReports.inc({ outcome });
    agentReportDuration.observe({ outcome }, (performance.now() - started) / 1000);
    return create(ReportDeploymentStatusResponseSchema, {});
  };
}

/** Applies one report: "applied", or "stale" (an older report than one already applied). */
async function processReport(deps: ApiDeps, req: ReportDeploymentStatusRequest, context: HandlerContext): Promise<"applied" | "stale"> {
  requireId("deployment_id", req.deploymentId);
  const region = agentRegion(deps, context, req.region);
  const instances = validateReport(deps, req);
  // New running addresses reach the gateways as rewritten gateway configs, in the same commit.
  const outcome = await retryTransient(() =>
    replaceInstances(deps.db, req.deploymentId, region, Number(req.observedVersion), instances, (trx) => refreshUpstreams(trx, req.deploymentId, deps.config.platformApex).then(() => undefined)),
  );
  // Another tenant's deployment or a missing one: the agent sees every tenant, but only where it runs.
  if (outcome === "no_desired_state") throw notFound("desired state of deployment", `${req.deploymentId} in region ${region}`);
  if (outcome === "stale") return "stale";

  const failure = `region ${region}: ${req.message.slice(0, 1000) || "instances failed"}`;
  if (req.status === RegionDeploymentStatus.FAILED) {
    // Kept for a workflow that has not published its awakeable yet (it reads it when it does).
    await retryTransient(() =>
      deps.db.updateTable("deployments").set({ error: failure }).where("id", "=", req.deploymentId).where("status", "not in", ["ready", "failed", "cancelled"]).execute(),
    );
  }
  const { awakeable_id: awakeableId } = await deps.db
    .selectFrom("deployments")
    .select("awakeable_id")
    .where("id", "=", req.deploymentId)
    .executeTakeFirstOrThrow();
  if (awakeableId) {
    if (req.status === RegionDeploymentStatus.FAILED) {
      await viaIngress(() => deps.ingress.resolveAwakeable(awakeableId, { status: "failed", message: failure }));
    } else if (await allRegionsRunning(deps.db, req.deploymentId)) {
      await viaIngress(() => deps.ingress.resolveAwakeable(awakeableId, { status: "running" }));
    }
  }
  return "applied";
}

/** Every field of the report, before anything is written; InvalidArgument names the first bad one. */
function validateReport(deps: ApiDeps, req: ReportDeploymentStatusRequest): ReportedInstance[] {
  if (req.status === RegionDeploymentStatus.UNSPECIFIED) throw invalidArgument("status", "is required");
  if (RegionDeploymentStatus[req.status] === undefined) throw invalidArgument("status", `unknown value ${req.status}`);
  textField("message", req.message, 4000);
  if (req.idempotencyKey.length > 128 || !/^[\x21-\x7e]*$/.test(req.idempotencyKey)) {
    throw invalidArgument("idempotency_key", "must be at most 128 printable ASCII characters");
  }
  if (req.instances.length > MAX_INSTANCES) throw invalidArgument("instances", `at most ${MAX_INSTANCES} per report`);
  const seen = new Set<string>();
  return req.instances.map((instance, i) => {
    if (instance.status === InstanceStatus.UNSPECIFIED) throw invalidArgument(`instances[${i}].status`, "is required");
    const status = INSTANCE_STATUS[instance.status];
    if (!status) throw invalidArgument(`instances[${i}].status`, `unknown value ${instance.status}`);
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(instance.instanceId)) throw invalidArgument(`instances[${i}].instance_id`, "must be 1-64 characters of [A-Za-z0-9._:-]");
    if (seen.has(instance.instanceId)) throw invalidArgument(`instances[${i}].instance_id`, `"${instance.instanceId}" is reported twice`);
    seen.add(instance.instanceId);
    if (instance.address !== "") {
      const verdict = checkInstanceAddress(instance.address, deps.config.instanceAddressRanges);
      if (!verdict.ok) throw invalidArgument(`instances[${i}].address`, verdict.problem);
    }
    textField(`instances[${i}].message`, instance.message, 4000);
    return { id: instance.instanceId, status, address: instance.address || null };
  });
}
