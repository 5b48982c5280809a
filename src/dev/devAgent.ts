// The dev stack's agent: `switchyard agent` (the container driver when podman is installed, see
// devContainers.ts; the process driver otherwise) as a child, for the first region,
// state under <data>/agent, log in <data>/agent.log. Started last and stopped first, so it stops
// its instances while switchyard still takes their reports. An agent left running by a dev
// process that was SIGKILLed is recognised by its pid file and state directory and stopped first.

import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "./binaries.js";
import { ManagedProcess } from "./process.js";
import { stopLeftoverProcess } from "./stalePid.js";

export interface DevAgent {
  pid: number;
  stateDir: string;
  logFile: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

export async function startDevAgent(dataRoot: string, opts: { apiUrl: string; token: string; region: string; metricsListen?: string; env?: Record<string, string> }, say: (line: string) => void): Promise<DevAgent> {
  const stateDir = path.join(dataRoot, "agent");
  const pidFile = path.join(dataRoot, "agent.pid");
  const leftover = await stopLeftoverProcess(pidFile, stateDir, 30_000);
  if (leftover) say(`stopped the agent pid ${leftover} left running by an earlier npm run dev`);
  const logFile = path.join(dataRoot, "agent.log");
  const proc = new ManagedProcess({
    name: "agent",
    command: process.execPath,
    args: ["--import", "tsx", path.join("src", "main.ts"), "agent"],
    env: {
      ...process.env,
      SWITCHYARD_URL: opts.apiUrl,
      SWITCHYARD_AGENT_TOKEN: opts.token,
      SWITCHYARD_AGENT_REGION: opts.region,
      SWITCHYARD_AGENT_STATE_DIR: stateDir,
      ...(opts.metricsListen ? { SWITCHYARD_AGENT_METRICS_LISTEN: opts.metricsListen } : {}),
      ...opts.env,
    },
    cwd: repoRoot,
    logFile,
    stopTimeoutMs: 30_000,
    detached: true,
  });
  proc.start();
  await fs.promises.writeFile(pidFile, `${proc.pid}\n`);
  const lockFile = path.join(stateDir, "agent.lock");
  await proc.waitUntil(
    "the agent to claim its state directory",
    async () => {
      try {
        return JSON.parse(await fs.promises.readFile(lockFile, "utf8")).pid === proc.pid;
      } catch {
        return false;
      }
    },
    READY_TIMEOUT_MS,
    50,
  );
  say(`agent running for region ${opts.region} (pid ${proc.pid}, log ${path.relative(process.cwd(), logFile) || logFile})`);
  return {
    pid: proc.pid,
    stateDir,
    logFile,
    async stop() {
      await proc.stop();
      await fs.promises.rm(pidFile, { force: true });
    },
  };
}
