// Run by test/harness.test.ts as a test file of its own (node --test): a child in a temp dir
// dies of a signal nobody in the harness sent, and the harness reports it. With
// POST_MORTEM_OUTCOME=pass the test catches that failure (the file passes), otherwise it fails.
// Prints "temp dir: <path>" so the caller can check what was kept.
import assert from "node:assert/strict";
import path from "node:path";
import { it } from "node:test";
import { makeTempDir, ManagedProcess, removeTempDir } from "../harness/index.js";

it("a child dies of a stranger's SIGKILL", async () => {
  const dir = await makeTempDir("post-mortem");
  console.log(`temp dir: ${dir}`);
  const proc = new ManagedProcess({
    name: "sleeper",
    command: process.execPath,
    args: ["-e", "console.log('sleeper up'); setTimeout(() => {}, 60_000)"],
    logFile: path.join(dir, "sleeper.log"),
  });
  proc.start();
  process.kill(proc.pid, "SIGKILL");
  const failure = await proc.waitUntil("never", async () => false, 10_000).then(() => undefined, (error: Error) => error);
  await proc.stop();
  await removeTempDir(dir);
  assert.ok(failure);
  if (process.env.POST_MORTEM_OUTCOME !== "pass") throw failure;
});
