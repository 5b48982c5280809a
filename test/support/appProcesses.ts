// The app processes the agent runs for a deployment, found the way an operator would: /proc, by
// the SWITCHYARD_INSTANCE_ID the process driver gives every run (`<deployment>-<region>-<slot>`).
import fs from "node:fs";

export interface AppProcess {
  pid: number;
  instanceId: string;
  runId: string;
  port: number;
}

export function appProcesses(deploymentId: string): AppProcess[] {
  const found: AppProcess[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let environ: string;
    let stat: string;
    try {
      environ = fs.readFileSync(`/proc/${name}/environ`, "utf8");
      stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
    const env = new Map(environ.split("\0").filter(Boolean).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
    const instanceId = env.get("SWITCHYARD_INSTANCE_ID");
    if (!instanceId?.startsWith(`${deploymentId}-`)) continue;
    found.push({ pid: Number(name), instanceId, runId: env.get("SWITCHYARD_RUN_ID") ?? "", port: Number(env.get("PORT")) });
  }
  return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}
