// Coalesced applies in front of a Router. The newest offered state wins: offers within the
// debounce (and while an apply runs) fold into one apply of the latest state, so a burst of
// promotes costs one reload. At most one apply is in flight, states are applied in version
// order (an older offer never replaces a newer one), an unchanged state is not re-applied (the
// Router says "unchanged"), and a failed apply is retried with backoff — the latest state, which
// contains the failed one, so nothing is ever skipped — and reported through onFailure until
// one succeeds.

import { Backoff } from "../cluster/client/backoff.js";
import type { ApplyOutcome, Router, RouterState } from "./router.js";

export interface ApplyQueueOptions {
  debounceMs: number;
  onApplied: (state: RouterState, outcome: ApplyOutcome, ms: number) => void;
  onFailure: (error: Error, attempt: number, state: RouterState) => void;
  backoff?: Backoff;
}

export class ApplyQueue {
  private latest: RouterState | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private busy = false;
  private closed = false;
  private failing = false;
  private readonly backoff: Backoff;
  private waiters: { version: bigint; resolve: () => void }[] = [];
  /** Version of the last state the router took (applied or found unchanged). */
  appliedVersion = -1n;

  constructor(
    private readonly router: Router,
    private readonly opts: ApplyQueueOptions,
  ) {
    this.backoff = opts.backoff ?? new Backoff({ initialMs: 200, maxMs: 10_000 });
  }

  /** Offers the desired state (offering the same one again re-applies it if the router lost it). */
  offer(state: RouterState): void {
    if (this.closed) return;
    if (this.latest && state.version < this.latest.version) return;
    this.latest = state;
    this.schedule(this.opts.debounceMs);
  }

  /** Resolves once a state at or past `version` was taken by the router. */
  applied(version: bigint): Promise<void> {
    if (this.appliedVersion >= version) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ version, resolve }));
  }

  /** Stops scheduling; resolves after the apply in flight, if any. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.busy || this.failing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.busy = true;
      this.running = this.run();
    }, delayMs);
  }

  private async run(): Promise<void> {
    const state = this.latest!;
    const t0 = performance.now();
    let outcome: ApplyOutcome;
    try {
      outcome = await this.router.apply(state);
    } catch (error) {
      this.busy = false;
      this.failing = true;
      this.opts.onFailure(error as Error, this.backoff.attempts + 1, state);
      const delay = this.backoff.next();
      if (!this.closed) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.failing = false;
          this.schedule(0);
        }, delay);
      }
      return;
    }
    this.busy = false;
    this.backoff.reset();
    if (state.version > this.appliedVersion) this.appliedVersion = state.version;
    this.opts.onApplied(state, outcome, performance.now() - t0);
    if (!this.closed && this.latest !== state) this.schedule(this.opts.debounceMs);
    this.waiters = this.waiters.filter((w) => (w.version <= this.appliedVersion ? (w.resolve(), false) : true));
  }
}
