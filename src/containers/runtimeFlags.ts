// The podman flags this machine needs, detected when the agent or the builder starts instead of
// being written down per machine:
//   --runtime runc   when the cgroup layout is v1 or hybrid v1+v2 (crun refuses a hybrid layout)
//                    and runc is installed; on a pure v2 host podman's default runtime is used.
//   --ulimit …       the current nofile/nproc limits: podman asks for higher defaults, and where
//                    rlimits cannot be raised (unprivileged containers, some VMs) starting fails.
//                    When the runtime still refuses one (conmon runs under lower limits than
//                    podman), the first start halves it until it passes (lowerLimit) and the
//                    lowered value is kept for every later start.

import fs from "node:fs";
import { findBinary } from "../dev/binaries.js";

export interface RuntimeFlags {
  /** Global flags (before the podman command). */
  global: string[];
  /** Limits for `podman run` and `podman build` (see ulimitFlags; lowered by lowerLimit). */
  limits: Partial<Record<LimitName, { soft: number; hard: number }>>;
  /** What was detected and why, for the start-up log line. */
  detail: string;
}

/** Soft/hard limit of "Max open files" or "Max processes" in /proc/self/limits. */
function currentLimit(limits: string, label: string): { soft: string; hard: string } | undefined {
  const line = limits.split("\n").find((l) => l.startsWith(label));
  const match = line && /^.+?\s{2,}(\S+)\s+(\S+)/.exec(line);
  return match ? { soft: match[1]!, hard: match[2]! } : undefined;
}

export function cgroupLayout(): "v2" | "hybrid" | "v1" {
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) return "v2";
  return fs.existsSync("/sys/fs/cgroup/unified") ? "hybrid" : "v1";
}

export function detectRuntimeFlags(): RuntimeFlags {
  const global: string[] = [];
  const notes: string[] = [];
  const layout = cgroupLayout();
  if (layout !== "v2") {
    const runc = findBinary("runc");
    if (runc) {
      global.push("--runtime", runc);
      notes.push(`cgroups ${layout}: runtime runc`);
    } else notes.push(`cgroups ${layout} and no runc: podman's default runtime (crun refuses hybrid layouts)`);
  } else notes.push("cgroups v2: podman's default runtime");
  const limits: RuntimeFlags["limits"] = {};
  let text = "";
  try {
    text = fs.readFileSync("/proc/self/limits", "utf8");
  } catch {
    // Not Linux: nothing to pin.
  }
  for (const [name, label] of [
    ["nofile", "Max open files"],
    ["nproc", "Max processes"],
  ] as const) {
    const limit = currentLimit(text, label);
    if (!limit || limit.soft === "unlimited") continue;
    const hard = limit.hard === "unlimited" ? limit.soft : limit.hard;
    limits[name] = { soft: Number(limit.soft), hard: Number(hard) };
    notes.push(`${name} ${limit.soft}:${hard}`);
  }
  return { global, limits, detail: notes.join("; ") };
}

export type LimitName = "nofile" | "nproc";

export function ulimitFlags(flags: RuntimeFlags): string[] {
  return Object.entries(flags.limits).flatMap(([name, limit]) => ["--ulimit", `${name}=${limit.soft}:${limit.hard}`]);
}

/** RLIMIT_* numbers as runc names them in "error setting rlimit type N". */
const RLIMIT_TYPES: Record<number, LimitName> = { 6: "nproc", 7: "nofile" };
const FLOOR = 1024;

/**
 * The runtime refused a limit (podman runs conmon, and so the container, under lower limits than
 * its own — e.g. nproc capped at 32768): halves the one runc named. Returns false when the
 * message names no limit or the limit is already at the floor, i.e. a retry would not help.
 */
export function lowerLimit(flags: RuntimeFlags, runtimeError: string): boolean {
  const type = /error setting rlimit type (\d+)/.exec(runtimeError)?.[1];
  const name = type === undefined ? undefined : RLIMIT_TYPES[Number(type)];
  const limit = name && flags.limits[name];
  if (!limit || limit.hard <= FLOOR) return false;
  const lowered = Math.max(FLOOR, Math.floor(limit.hard / 2));
  flags.limits[name] = { soft: Math.min(limit.soft, lowered), hard: lowered };
  return true;
}
