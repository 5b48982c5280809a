import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  InstanceStatus,
  RegionDeploymentStatus,
  type ReportDeploymentStatusRequest,
  type ReportDeploymentStatusResponse,
  ReportDeploymentStatusResponseSchema,
} from "../../gen/ctrl/v1/cluster_pb.js";
import { allRegionsRunning, recordInstances, type ReportedInstance } from "../../db/instances.js";
import { retryTransient } from "../../db/retry.js";
import { viaIngress } from "../../restate/ingress.js";
import { principalOf } from "../auth.js";
import { invalidArgument } from "../errors.js";
import type { ApiDeps } from "../server.js";
import { findDeployment, requireId } from "../tenancy.js";

const INSTANCE_STATUS: Partial<Record<InstanceStatus, ReportedInstance["status"]>> = {
  [InstanceStatus.PENDING]: "pending",
  [InstanceStatus.RUNNING]: "running",
  [InstanceStatus.FAILED]: "failed",
  [InstanceStatus.STOPPED]: "stopped",
};

/**
 * An agent reports what runs in its region. The instances are recorded; once every region of
 * the deployment has a running instance the Deployment workflow's awakeable is resolved, and a
 * FAILED region rejects it with the agent's message. Reports are idempotent: repeating one
 * changes nothing, and a report after the workflow moved on only updates the instances.
 */
export function reportDeploymentStatus(deps: ApiDeps) {
  return async (req: ReportDeploymentStatusRequest, context: HandlerContext): Promise<ReportDeploymentStatusResponse> => {
    requireId("deployment_id", req.deploymentId);
    if (!deps.config.regions.includes(req.region)) {
      throw invalidArgument("region", `unknown region "${req.region.slice(0, 64)}"; known: ${deps.config.regions.join(", ")}`);
    }
    if (req.status === RegionDeploymentStatus.UNSPECIFIED) throw invalidArgument("status", "is required");
    if (req.instances.length > 1000) throw invalidArgument("instances", "at most 1000 per report");
    const instances = req.instances.map((instance, i) => {
      const status = INSTANCE_STATUS[instance.status];
      if (!status) throw invalidArgument(`instances[${i}].status`, "is required");
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(instance.instanceId)) throw invalidArgument(`instances[${i}].instance_id`, "must be 1-64 characters of [A-Za-z0-9._:-]");
      if (instance.address.length > 255) throw invalidArgument(`instances[${i}].address`, "at most 255 characters");
      return { id: instance.instanceId, status, address: instance.address || null };
    });
    const deployment = await findDeployment(deps.db, principalOf(context).tenantId, req.deploymentId);
    await retryTransient(() => recordInstances(deps.db, deployment.id, req.region, instances));
    const failure = `region ${req.region}: ${req.message.slice(0, 1000) || "instances failed"}`;
    if (req.status === RegionDeploymentStatus.FAILED) {
      // Kept for a workflow that has not published its awakeable yet (it reads it when it does).
      await retryTransient(() =>
        deps.db.updateTable("deployments").set({ error: failure }).where("id", "=", deployment.id).where("status", "not in", ["ready", "failed", "cancelled"]).execute(),
      );
    }

    const { awakeable_id: awakeableId } = await deps.db
      .selectFrom("deployments")
      .select("awakeable_id")
      .where("id", "=", deployment.id)
      .executeTakeFirstOrThrow();
    if (awakeableId) {
      if (req.status === RegionDeploymentStatus.FAILED) {
        await viaIngress(() => deps.ingress.resolveAwakeable(awakeableId, { status: "failed", message: failure }));
      } else if (await allRegionsRunning(deps.db, deployment.id)) {
        await viaIngress(() => deps.ingress.resolveAwakeable(awakeableId, { status: "running" }));
      }
    }
    return create(ReportDeploymentStatusResponseSchema, {});
  };
}
