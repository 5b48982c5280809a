import { createHash } from "node:crypto";

/**
 * The stable id of one instance slot: `<deployment>-<region>-<slot>`, at most 64 characters of
 * [A-Za-z0-9._:-] as ReportDeploymentStatus accepts (a long region name is shortened to a digest).
 * A restart is a new run of the same instance, so reports keep naming the same instances.
 */
export function instanceIdFor(deploymentId: string, region: string, slot: number): string {
  const regionPart = region.length <= 20 ? region : createHash("sha256").update(region).digest("hex").slice(0, 12);
  return `${deploymentId}-${regionPart}-${slot}`;
}
