// A child of an earlier `npm run dev` that outlived it (the dev process was SIGKILLed, so it
// could not stop its children) still holds the data directory. We recorded its pid; we stop it
// only when /proc shows the same program still working on the same directory, so a recycled
// pid is never signalled.

import fs from "node:fs";
import { pidAlive, sleep } from "./process.js";

function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive and its command line or environment mentions `ownedPath`: the same
 * program still working on our directory, not a process that was given a recycled pid.
 */
export function processWorksOn(pid: number, ownedPath: string): boolean {
  if (!pidAlive(pid)) return false;
  const mentions = (text: string | undefined) => text?.includes(ownedPath) ?? false;
  let environ: string | undefined;
  try {
    environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    environ = undefined;
  }
  return mentions(commandLine(pid)) || mentions(environ);
}

/**
 * Reads a pid from `pidFile`; when processWorksOn(pid, ownedPath), sends SIGTERM, waits up to
 * `graceMs`, then SIGKILL. Returns the pid stopped, or undefined when there was nothing of ours
 * to stop.
 */
export async function stopLeftoverProcess(pidFile: string, ownedPath: string, graceMs = 15_000): Promise<number | undefined> {
  const pid = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").trim() : "0");
  if (!Number.isInteger(pid) || pid <= 0 || !processWorksOn(pid, ownedPath)) return undefined;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) process.kill(pid, "SIGKILL");
  for (let waited = 0; pidAlive(pid) && waited < 5000; waited += 50) await sleep(50);
  return pid;
}
