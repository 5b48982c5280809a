// The pure timing rules of ordering certificates: the order budget's sliding window, the CA's
// Retry-After, and the polling delays.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retryAfterMs } from "../../src/acme/caProblems.js";
import { pollDelayMs } from "../../src/acme/caPolling.js";
import { nextOrderTime } from "../../src/acme/orderBudget.js";

const at = (ms: number) => new Date(ms);

describe("order budget", () => {
  const budget = { orders: 3, windowMs: 1000 };
  it("places an order now while the window has room", () => {
    assert.equal(nextOrderTime([], budget, at(5000)).getTime(), 5000);
    assert.equal(nextOrderTime([at(4900), at(4800)], budget, at(5000)).getTime(), 5000);
  });
  it("waits until the oldest of the last `orders` leaves the window", () => {
    assert.equal(nextOrderTime([at(4900), at(4800), at(4700)], budget, at(5000)).getTime(), 5700);
  });
  it("queues behind slots already reserved in the future", () => {
    assert.equal(nextOrderTime([at(6000), at(5700), at(5000)], budget, at(5100)).getTime(), 6000);
    assert.equal(nextOrderTime([at(6000)], budget, at(5100)).getTime(), 6000);
  });
  it("keeps every window at or under the budget however many orders queue", () => {
    const taken: Date[] = [];
    for (let i = 0; i < 20; i++) taken.unshift(nextOrderTime(taken, budget, at(0)));
    const times = taken.map((d) => d.getTime()).reverse();
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
