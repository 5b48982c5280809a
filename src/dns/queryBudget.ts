/**
 * Paces DNS queries: one starts every 1/perSecond seconds at most (a token bucket holding one
 * token), so no second ever sees more than `perSecond` + 1 starts and thousands of pending
 * domains never flood a resolver. Waiters are served in arrival order.
 */
export class QueryBudget {
  private tokens: number;
  private last = performance.now();
  private readonly waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly perSecond: number) {
    if (!(perSecond > 0)) throw new RangeError(`QueryBudget: perSecond must be positive, got ${perSecond}`);
    this.tokens = 1;
  }

  /** Resolves when one query may start. */
  take(): Promise<void> {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(1, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer) return;
    const waitMs = Math.max(1, ((1 - this.tokens) / this.perSecond) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiters.shift()!();
      }
      if (this.waiters.length > 0) this.schedule();
    }, waitMs);
  }
}
