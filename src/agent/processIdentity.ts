// Which process a pid names, from /proc. A pid alone is not an identity: after an agent restart
// the pid it recorded may belong to another program. The pid together with the process's start
// time (field 22 of /proc/<pid>/stat, in clock ticks since boot) names one process for good, so
// the agent signals only a process that is still the one it started.

import fs from "node:fs";

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot, as /proc/<pid>/stat gives it. */
  startTime: string;
}

/** The identity of a live process, or undefined when it is gone (or a zombie). */
export function identify(pid: number): ProcessIdentity | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  if (!startTime || state === "Z" || state === "X") return undefined;
  return { pid, startTime };
}

/** True when `identity` still names a live process. */
export function stillRunning(identity: ProcessIdentity): boolean {
  return identify(identity.pid)?.startTime === identity.startTime;
}

/** Pids of the live processes whose initial environment holds `entry` ("NAME=value"). */
export function findProcessesByEnvironment(entry: string): number[] {
  const found: number[] = [];
  const needle = Buffer.from(`${entry}\0`);
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return found;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = fs.readFileSync(`/proc/${name}/environ`);
      if (environ.indexOf(needle) === 0 || environ.includes(Buffer.concat([Buffer.from("\0"), needle]))) found.push(Number(name));
    } catch {
      // gone meanwhile, or another user's: not ours either way
    }
  }
  return found;
}

/** Sends `signal` to the process group led by `identity`, only while it is still that process. */
export function signalGroup(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!stillRunning(identity)) return false;
  // The group first (the instance's own children go with it); a leader that left its group is
  // still signalled itself.
  for (const target of [-identity.pid, identity.pid]) {
    try {
      process.kill(target, signal);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
  return false;
}
