import type { CustomDomainStatus } from "../db/schema.js";

export interface CheckSchedule {
  /** Delays between the checks of an unverified claim: the nth check waits backoffMs[n-1], the last one repeats. */
  backoffMs: readonly number[];
  /** Delay between the checks of a verified domain (it is still watched, slowly). */
  verifiedEveryMs: number;
}

/** When the next ownership check of a domain is due, after check number `attempt`; null = never. */
export function nextCheckDelayMs(schedule: CheckSchedule, status: CustomDomainStatus, attempt: number): number | null {
  if (status === "removed") return null;
  if (status === "verified") return schedule.verifiedEveryMs;
  const steps = schedule.backoffMs;
  return steps[Math.min(Math.max(attempt, 1), steps.length) - 1]!;
}
