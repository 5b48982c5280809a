import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { LogMetadata } from "@restatedev/restate-sdk";
import { restateLogTransport } from "../../src/restate/logTransport.js";

function capture(level = "debug") {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, transport: restateLogTransport(pino({ level }, sink)) };
}

// The SDK's enums are types only at runtime; their values are these strings.
const meta = (source: string, level: string, replaying: boolean) => ({ source, level, replaying, context }) as LogMetadata;
const context = { invocationId: "inv_1", serviceName: "Project", handlerName: "promote", key: "prj_1" } as LogMetadata["context"];

describe("restate SDK logs through pino", () => {
  it("writes JSON with the invocation's identity and the error as err", () => {
    const { lines, transport } = capture();
    transport(meta("JOURNAL", "warn", false), "retrying step", new Error("deadlock"));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, "retrying step");
    assert.equal(lines[0]!.level, 40);
    assert.equal(lines[0]!.invocationId, "inv_1");
    assert.equal(lines[0]!.service, "Project");
    assert.equal(lines[0]!.key, "prj_1");
    assert.equal((lines[0]!.err as { message: string }).message, "deadlock");
  });

  it("drops lines emitted while replaying and demotes the SDK's lifecycle lines to debug", () => {
    const { lines, transport } = capture("info");
    transport(meta("USER", "info", true), "already logged");
    transport(meta("SYSTEM", "info", false), "Invocation completed successfully.");
    transport(meta("USER", "info", false), "phase", "deploying");
    assert.deepEqual(lines.map((l) => l.msg), ["phase deploying"]);
  });
});
