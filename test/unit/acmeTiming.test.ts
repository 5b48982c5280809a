// The pure timing rules of ordering certificates: the order budget's sliding window, the CA's
// Retry-After, and the polling delays.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retryAfterMs } from "../../src/acme/caProblems.js";
import { pollDelayMs } from "../../src/acme/caPolling.js";
import { orderWaitMs } from "../../src/acme/orderBudget.js";

const at = (ms: number) => new Date(ms);

describe("order budget", () => {
  const budget = { orders: 3, windowMs: 1000 };
  it("places an order now while the window has room", () => {
    assert.equal(orderWaitMs([], budget, at(5000)), 0);
    assert.equal(orderWaitMs([at(4800), at(4900)], budget, at(5000)), 0);
  });
  it("waits until the oldest order that fills the window leaves it", () => {
    assert.equal(orderWaitMs([at(4700), at(4800), at(4900)], budget, at(5000)), 700);
    assert.equal(orderWaitMs([at(4100), at(4700), at(4800), at(4900)], budget, at(5000)), 700);
  });
  it("keeps every window at or under the budget however many orders queue", () => {
    const placed: Date[] = [];
    let now = 0;
    for (let i = 0; i < 20; ) {
      const inWindow = placed.filter((p) => p.getTime() > now - budget.windowMs);
      const wait = orderWaitMs(inWindow, budget, at(now));
      if (wait === 0) {
        placed.push(at(now));
        i++;
      } else now += wait;
    }
    const times = placed.map((d) => d.getTime());
    for (const t of times) assert.ok(times.filter((u) => u >= t && u < t + budget.windowMs).length <= budget.orders);
    assert.equal(times.at(-1), 6000, "20 orders at 3 per second take 6 more seconds");
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates", () => {
    assert.equal(retryAfterMs("120"), 120_000);
    assert.equal(retryAfterMs("Mon, 23 Nov 2026 08:00:30 GMT", new Date("2026-11-23T08:00:00Z")), 30_000);
    assert.equal(retryAfterMs("Mon, 23 Nov 2026 07:00:00 GMT", new Date("2026-11-23T08:00:00Z")), 0, "a date in the past asks for no wait");
  });
  it("is absent when the header is missing or unreadable", () => {
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs(""), undefined);
    assert.equal(retryAfterMs("soon"), undefined);
  });
});

describe("polling", () => {
  it("starts quick and doubles to 10 s", () => {
    assert.deepEqual([0, 1, 2, 3, 6, 20].map((n) => pollDelayMs(n, undefined)), [250, 500, 1000, 2000, 10_000, 10_000]);
  });
  it("never polls sooner than the CA's Retry-After", () => {
    assert.equal(pollDelayMs(0, 3000), 3000);
    assert.equal(pollDelayMs(6, 3000), 10_000);
  });
});
