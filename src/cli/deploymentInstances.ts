import { InstanceStatus } from "../gen/ctrl/v1/cluster_pb.js";
import type { Deployment } from "../gen/ctrl/v1/deploy_pb.js";

export function instanceStatusName(status: InstanceStatus): string {
  return InstanceStatus[status].toLowerCase();
}

/** Addresses of the instances the agents report running. */
export function runningAddresses(deployment: Deployment): string[] {
  return deployment.instances.filter((i) => i.status === InstanceStatus.RUNNING && i.address).map((i) => i.address);
}

/** "  instances:" and one line per instance, plus a `curl` of the first running one when asked. */
export function instanceLines(deployment: Deployment, opts: { curlHint?: boolean } = {}): string {
  if (deployment.instances.length === 0) return "";
  const lines = ["  instances:", ...deployment.instances.map((i) => `    ${i.region}  ${i.instanceId}  ${instanceStatusName(i.status)}${i.address ? `  ${i.address}` : ""}`)];
  const [first] = runningAddresses(deployment);
  if (opts.curlHint && first) lines.push(`  try: curl http://${first}/`);
  return `${lines.join("\n")}\n`;
}
