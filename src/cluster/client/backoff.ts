// Exponential backoff with jitter, bounded: the agent's and the gateway's retries (reconnecting the watch stream,
// re-sending a report, re-applying a change, restarting a crashed instance) all wait through one
// of these, so a failing dependency is never hammered and nothing waits longer than `maxMs`.

export interface BackoffPolicy {
  /** First delay. */
  initialMs: number;
  /** Largest delay. */
  maxMs: number;
  /** Fraction of each delay drawn at random (0 = none, 0.5 = between half and all of it). */
  jitter?: number;
}

export class Backoff {
  private failures = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call doubles the base, up to maxMs. */
  next(): number {
    const base = Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const jitter = this.policy.jitter ?? 0.5;
    return Math.round(base * (1 - jitter * this.random()));
  }

  /** Attempts that failed since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.failures = 0;
  }
}
