// The Project object's standby schedule (its state `standby`, visible in the Restate UI): per
// deployment, the one delayed `standby` call in flight and when the standby is due.
//
// A project promoted back and forth re-arms the previous live deployment on every swap. Sending a
// delayed call each time would leave one pending invocation per swap in restate-server for the
// whole grace period; instead a deployment has at most one call in flight. Re-armed for a later
// time, the call in flight is kept: when it fires early it sends itself again for the rest of the
// wait. Only a due time earlier than the call's (a swap after a wake's longer wait) sends a new
// call, and the old one, its token replaced, does nothing.

export interface StandbyEntry {
  /** The token of the call in flight; a call with another token is stale. */
  token: string;
  /** When the call in flight fires (ISO). Absent in entries written before it was kept: their due time. */
  callAt?: string;
  /** When the standby is due (ISO); null once disarmed (live again). */
  dueAt: string | null;
}

export type StandbySchedule = Record<string, StandbyEntry>;

/** A delayed `standby` call to send. */
export interface StandbyCall {
  token: string;
  delayMs: number;
}

/** Arms `deploymentId`'s standby for `dueAtMs`; returns the call to send, if the one in flight does not fire by then. */
export function armStandby(schedule: StandbySchedule, deploymentId: string, dueAtMs: number, nowMs: number, newToken: () => string): StandbyCall | undefined {
  const dueAt = new Date(dueAtMs).toISOString();
  const entry = schedule[deploymentId];
  if (entry && callTime(entry) <= dueAtMs) {
    entry.dueAt = dueAt;
    return undefined;
  }
  const token = newToken();
  schedule[deploymentId] = { token, callAt: dueAt, dueAt };
  return { token, delayMs: Math.max(0, dueAtMs - nowMs) };
}

/** The deployment is live again: its standby is off, and its call in flight will find that. */
export function disarmStandby(schedule: StandbySchedule, deploymentId: string): void {
  const entry = schedule[deploymentId];
  if (entry) entry.dueAt = null;
}

export type StandbyCallVerdict =
  /** Not the call in flight (its token was replaced), or nothing is scheduled. */
  | { kind: "stale" }
  /** Disarmed: nothing to do, the entry is gone. */
  | { kind: "disarmed" }
  /** Re-armed for later: send the call again (same token) for the rest of the wait. */
  | { kind: "postponed"; call: StandbyCall }
  /** Due: put the deployment in standby, then `done`. */
  | { kind: "due" };

/** What the delayed call with `token` does at `nowMs`; updates the schedule for all but "due". */
export function judgeStandbyCall(schedule: StandbySchedule, deploymentId: string, token: string, nowMs: number): StandbyCallVerdict {
  const entry = schedule[deploymentId];
  if (!entry || entry.token !== token) return { kind: "stale" };
  if (entry.dueAt === null) {
    delete schedule[deploymentId];
    return { kind: "disarmed" };
  }
  const dueAtMs = Date.parse(entry.dueAt);
  if (dueAtMs > nowMs) {
    entry.callAt = entry.dueAt;
    return { kind: "postponed", call: { token, delayMs: dueAtMs - nowMs } };
  }
  return { kind: "due" };
}

/** After the standby of a due call: the deployment has nothing in flight. */
export function standbyDone(schedule: StandbySchedule, deploymentId: string): void {
  delete schedule[deploymentId];
}

function callTime(entry: StandbyEntry): number {
  return Date.parse(entry.callAt ?? entry.dueAt ?? "") || Number.POSITIVE_INFINITY;
}
