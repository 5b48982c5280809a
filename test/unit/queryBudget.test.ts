import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QueryBudget } from "../../src/dns/queryBudget.js";

describe("DNS query budget", () => {
  it("never lets queries start faster than the budget, in arrival order", async () => {
    const budget = new QueryBudget(50);
    const started: number[] = [];
    const order: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        budget.take().then(() => {
          started.push(performance.now() - t0);
          order.push(i);
        }),
      ),
    );
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => i));
    // The nth start waits for n-1 refills of 20 ms each (1 ms of timer slack allowed).
    started.forEach((at, n) => assert.ok(at >= n * 20 - 1, `start ${n} at ${at.toFixed(1)} ms`));
  });

  it("refuses a budget that is not positive", () => {
    assert.throws(() => new QueryBudget(0), /positive/);
  });
});
