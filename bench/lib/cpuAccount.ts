import fs from "node:fs";
import { round } from "./stats.js";

// CPU time per operation, by process: on a machine whose cores every process shares, throughput
// follows CPU per operation, so this says which process a slower path spends its time in.
// Linux only: utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock ticks of 10 ms).

const TICK_MS = 10;

function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), counted from field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

export type CpuSnapshot = Record<string, number>;

/** CPU used so far by each named process (this one is `bench`: clients, and any endpoint it serves). */
export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  const own = process.cpuUsage();
  return { ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMsOf(pid)])), bench: (own.user + own.system) / 1000 };
}

/** CPU ms per operation by process between two snapshots, and their total. */
export function cpuPerOperation(before: CpuSnapshot, after: CpuSnapshot, operations: number): Record<string, number> {
  const per = Object.fromEntries(Object.keys(before).map((name) => [name, round((after[name]! - before[name]!) / Math.max(operations, 1))]));
  return { ...per, total: round(Object.values(per).reduce((a, b) => a + b, 0)) };
}

/** report()'s flat keys: `<prefix>_<process>` for each process and the total. */
export function cpuFigures(prefix: string, perOperation: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(perOperation).map(([name, ms]) => [`${prefix}_${name}`, ms]));
}
