// What a process was doing while we waited for it: the CPU time it used and its scheduler
// state, read from /proc (Linux). A process that is not ready after 30 s reads very differently
// when it used 28 s of CPU (starved or busy: it is loading or looping) than when it used 0.3 s
// (blocked: a lock, a dead peer, a deadlock) — so a readiness failure says which.

import fs from "node:fs";
import os from "node:os";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

const STATES: Record<string, string> = { R: "running", S: "sleeping", D: "waiting on I/O", T: "stopped", t: "stopped by a tracer", Z: "a zombie" };

export interface ProcessUsage {
  cpuSeconds: number;
  state: string;
}

/** Its CPU time (user + system, all threads) and state, or undefined when /proc cannot tell. */
export function processUsage(pid: number): ProcessUsage | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0] ?? "?";
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    if (!Number.isFinite(cpuTicks)) return undefined;
    return { cpuSeconds: cpuTicks / TICKS_PER_SECOND, state: STATES[state] ?? state };
  } catch {
    return undefined;
  }
}

/** "it used 0.4 s of CPU and is sleeping; load average 7.9 on 2 cores" — for failure messages. */
export function describeUsage(pid: number): string {
  const usage = processUsage(pid);
  const load = `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores`;
  if (!usage) return load;
  return `it used ${usage.cpuSeconds.toFixed(1)} s of CPU and is ${usage.state}; ${load}`;
}
