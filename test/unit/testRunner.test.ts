// npm test's runner (test/harness/testRunner.ts) reports every verdict that ran: with a forced
// exit and two files at a time, Node's runner used to drop a file's last verdicts when its report
// pipe was full at exit (nodejs/node#64833) — a run that lost a failure would still pass.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "../harness/binaries.js";
import { testRunnerArgs } from "../harness/testRunner.js";

/** Enough empty tests that a file's report outgrows a pipe's buffer: the loss needs a queued write. */
const TESTS_PER_FILE = 3000;
const FILES = 2;
/** Without the fix about half the runs of this shape lost verdicts; a few runs make a silent pass unlikely. */
const RUNS = 4;

describe("npm test's runner", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-runner-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reports every test of every file under a forced exit", () => {
    const body = ['const { test } = require("node:test");'];
    for (let i = 0; i < TESTS_PER_FILE; i++) body.push(`test("t${i}", () => {});`);
    const files: string[] = [];
    for (let f = 0; f < FILES; f++) {
      const file = path.join(dir, `many${f}.test.cjs`);
      fs.writeFileSync(file, `${body.join("\n")}\n`);
      files.push(file);
    }
    // A runner started inside a test file would report to its parent in the child format.
    const { NODE_TEST_CONTEXT: _inherited, ...env } = process.env;
    for (let run = 0; run < RUNS; run++) {
      const result = spawnSync(process.execPath, testRunnerArgs(files), { cwd: repoRoot, env, encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
      assert.equal(result.status, 0, result.stderr);
      const reported = /^ℹ tests (\d+)$/m.exec(result.stdout)?.[1];
      assert.equal(Number(reported), TESTS_PER_FILE * FILES, `run ${run + 1}: the runner reported ${reported} tests`);
    }
  });
});
