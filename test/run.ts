// `npm test`: checks the system programs the harness needs, finds every test/**/*.test.ts and
// runs them with Node's test runner (how: test/harness/testRunner.ts). The runner's summary
// (ℹ tests / pass / fail) is the last thing printed and the exit code is the runner's.
//
//   npm test                               every test file
//   npm test -- test/harness.test.ts       a subset (files or directories)
//   npm test -- --test-name-pattern=swap   extra flags are passed to node

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { missingBinaries, repoRoot } from "./harness/binaries.js";
import { enableListenerMigration } from "./harness/kernel.js";
import { clearStaleReservations } from "./harness/ports.js";
import { testRunnerArgs } from "./harness/testRunner.js";

function testFilesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFilesUnder(full));
    else if (entry.isFile() && entry.name.endsWith(".test.ts")) found.push(full);
  }
  return found.sort();
}

function main(): void {
  const missing = missingBinaries();
  if (missing.length > 0) {
    for (const problem of missing) console.error(`npm test: ${problem.message}`);
    const packages = [...new Set(missing.map((m) => m.debianPackage))].join(" ");
    console.error(`npm test: install the missing programs first: apt-get install ${packages}`);
    process.exit(1);
  }

  const args = process.argv.slice(2);
  const nodeFlags = args.filter((a) => a.startsWith("--"));
  const selections = args.filter((a) => !a.startsWith("--"));
  const files: string[] = [];
  if (selections.length === 0) {
    files.push(...testFilesUnder(path.join(repoRoot, "test")));
  } else {
    for (const selection of selections) {
      const full = path.resolve(selection);
      if (!fs.existsSync(full)) {
        console.error(`npm test: no such test file or directory: ${selection}`);
        process.exit(1);
      }
      files.push(...(fs.statSync(full).isDirectory() ? testFilesUnder(full) : [full]));
    }
  }
  if (files.length === 0) {
    console.error("npm test: no *.test.ts files found");
    process.exit(1);
  }

  clearStaleReservations();
  const kernelNote = enableListenerMigration();
  if (kernelNote) console.log(`npm test: ${kernelNote}`);
  const relative = files.map((f) => path.relative(repoRoot, f));
  console.log(`npm test: ${relative.length} file(s): ${relative.join(" ")}`);
  const child = spawn(process.execPath, testRunnerArgs(relative, nodeFlags), { cwd: repoRoot, stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on("error", (error) => {
    console.error(`npm test: could not start the node test runner: ${error.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    process.exit(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 1));
  });
}

main();
