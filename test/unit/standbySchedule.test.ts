// The Project object's standby schedule: one delayed call in flight per deployment, re-armed
// without a new call, postponed when it fires early, replaced only for an earlier due time.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { armStandby, disarmStandby, judgeStandbyCall, standbyDone, type StandbySchedule } from "../../src/routing/standbySchedule.js";

const GRACE = 60_000;

function tokens() {
  let n = 0;
  return () => `t${++n}`;
}

describe("standby schedule", () => {
  it("the first arm sends a call for the grace; re-arming for later sends none", () => {
    const schedule: StandbySchedule = {};
    const next = tokens();
    assert.deepEqual(armStandby(schedule, "a", 1_000 + GRACE, 1_000, next), { token: "t1", delayMs: GRACE });
    disarmStandby(schedule, "a"); // live again
    assert.equal(armStandby(schedule, "a", 5_000 + GRACE, 5_000, next), undefined, "the call in flight fires first");
    assert.deepEqual(schedule.a, { token: "t1", callAt: new Date(1_000 + GRACE).toISOString(), dueAt: new Date(5_000 + GRACE).toISOString() });
  });

  it("a call that fires before the due time sends itself again for the rest, then acts when due", () => {
    const schedule: StandbySchedule = {};
    const next = tokens();
    armStandby(schedule, "a", 1_000 + GRACE, 1_000, next);
    armStandby(schedule, "a", 5_000 + GRACE, 5_000, next);
    assert.deepEqual(judgeStandbyCall(schedule, "a", "t1", 1_000 + GRACE), { kind: "postponed", call: { token: "t1", delayMs: 4_000 } });
    assert.equal(schedule.a!.callAt, new Date(5_000 + GRACE).toISOString());
    assert.deepEqual(judgeStandbyCall(schedule, "a", "t1", 5_000 + GRACE), { kind: "due" });
    standbyDone(schedule, "a");
    assert.deepEqual(schedule, {});
  });

  it("a disarmed call does nothing and leaves nothing behind; the next arm sends a new call", () => {
    const schedule: StandbySchedule = {};
    const next = tokens();
    armStandby(schedule, "a", 1_000 + GRACE, 1_000, next);
    disarmStandby(schedule, "a");
    assert.deepEqual(judgeStandbyCall(schedule, "a", "t1", 1_000 + GRACE), { kind: "disarmed" });
    assert.deepEqual(schedule, {});
    assert.deepEqual(armStandby(schedule, "a", 90_000 + GRACE, 90_000, next), { token: "t2", delayMs: GRACE });
  });

  it("an earlier due time than the call in flight sends a new call; the old one is stale", () => {
    const schedule: StandbySchedule = {};
    const next = tokens();
    // A wake arms for the ready timeout plus the grace …
    armStandby(schedule, "a", 1_000 + 300_000 + GRACE, 1_000, next);
    disarmStandby(schedule, "a");
    // … then a swap makes it the previous live soon after: due sooner than that call fires.
    assert.deepEqual(armStandby(schedule, "a", 2_000 + GRACE, 2_000, next), { token: "t2", delayMs: GRACE });
    assert.deepEqual(judgeStandbyCall(schedule, "a", "t2", 2_000 + GRACE), { kind: "due" });
    assert.deepEqual(judgeStandbyCall(schedule, "a", "t1", 1_000 + 300_000 + GRACE), { kind: "stale" });
  });

  it("an entry written before calls were kept (no callAt) counts its due time as the call's", () => {
    const schedule: StandbySchedule = { a: { token: "old", dueAt: new Date(1_000 + GRACE).toISOString() } };
    assert.equal(armStandby(schedule, "a", 5_000 + GRACE, 5_000, tokens()), undefined);
    assert.deepEqual(judgeStandbyCall(schedule, "a", "old", 1_000 + GRACE), { kind: "postponed", call: { token: "old", delayMs: 4_000 } });
  });

  it("a call for a deployment with nothing scheduled is stale", () => {
    assert.deepEqual(judgeStandbyCall({}, "a", "t1", 0), { kind: "stale" });
  });
});
