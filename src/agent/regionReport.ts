// What the agent tells the control plane about one deployment in its region, derived from what it
// observes of the deployment's instance slots (pure: the reconciler supplies the observations).
//
//   desired running:  every slot healthy → RUNNING; a slot not healthy for longer than the
//                     startup timeout → FAILED (that slot FAILED, with its log tail); else PENDING.
//                     A run that crashed and waits for its restart is PENDING with the reason.
//   standby/stopped:  no run left → RUNNING with every slot STOPPED; while stopping → PENDING.

import type { DesiredDeployment } from "./desiredState.js";

export type InstanceState = "pending" | "running" | "failed" | "stopped";

export interface InstanceReport {
  instanceId: string;
  status: InstanceState;
  address: string;
  message: string;
}

export interface RegionReport {
  status: "pending" | "running" | "failed";
  message: string;
  instances: InstanceReport[];
  /** Feed version of the desired state the agent was applying. */
  observedVersion: bigint;
}

/** One instance slot as the reconciler sees it. */
export interface SlotObservation {
  instanceId: string;
  /** The current run's address, or the last one's. */
  address?: string;
  /** running: a run exists; healthy: it passed its last check. */
  running: boolean;
  healthy: boolean;
  /** Since when the slot has been without a healthy run (undefined while healthy). */
  unhealthySince?: number;
  /** Why it is not healthy: the last check's answer, an exit code, a start error. */
  detail?: string;
}

/** The control plane keeps the first 1,000 characters of a FAILED region's message. */
export const MESSAGE_LIMIT = 1000;

export function regionReport(
  desired: DesiredDeployment,
  slots: SlotObservation[],
  opts: { now: number; startupTimeoutMs: number; version: bigint; /** Of the overdue slot, already redacted. */ logTail?: string },
): RegionReport {
  if (desired.status !== "running") {
    const stopping = slots.some((s) => s.running);
    return {
      status: stopping ? "pending" : "running",
      message: stopping ? `stopping instances (${desired.status})` : "",
      instances: slots.map((s) => ({ instanceId: s.instanceId, status: s.running ? "pending" : "stopped", address: "", message: "" })),
      observedVersion: opts.version,
    };
  }
  const overdue = overdueSlot(slots, opts.now, opts.startupTimeoutMs);
  const instances: InstanceReport[] = slots.map((s) => ({
    instanceId: s.instanceId,
    status: s.healthy ? "running" : s === overdue ? "failed" : "pending",
    address: s.address ?? "",
    message: s.healthy ? "" : printable(s.detail ?? "starting").slice(0, 500),
  }));
  if (overdue) {
    const seconds = Math.round(opts.startupTimeoutMs / 1000);
    const reason = `instance ${overdue.instanceId} not healthy within ${seconds} s (${printable(overdue.detail ?? "no detail").slice(0, 300)})`;
    // The newest log lines matter most: the tail is shortened from its start to fit.
    const room = MESSAGE_LIMIT - reason.length - "; last log lines:\n…".length;
    const tail = opts.logTail ?? "";
    const fitted = tail.length > room ? `…${tail.slice(tail.length - room)}` : tail;
    return { status: "failed", message: fitted ? `${reason}; last log lines:\n${fitted}` : reason, instances, observedVersion: opts.version };
  }
  const healthy = slots.filter((s) => s.healthy).length;
  return {
    status: healthy === slots.length && slots.length > 0 ? "running" : "pending",
    message: healthy === slots.length ? "" : `${healthy} of ${slots.length} instances healthy`,
    instances,
    observedVersion: opts.version,
  };
}

/** The first slot that has been without a healthy run for longer than the startup timeout. */
export function overdueSlot(slots: SlotObservation[], now: number, startupTimeoutMs: number): SlotObservation | undefined {
  return slots.find((s) => s.unhealthySince !== undefined && now - s.unhealthySince > startupTimeoutMs);
}

/** A log tail fit for a report: every env value of 4+ characters replaced, control characters (colour codes…) removed. */
export function redactedTail(log: string, env: Record<string, string>): string {
  let text = log;
  const values = Object.values(env).filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  for (const value of values) text = text.split(value).join("[redacted]");
  return printable(text);
}

/** Without the control characters the API refuses (newlines and tabs stay). */
function printable(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "");
}
