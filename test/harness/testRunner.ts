// How `npm test` runs Node's test runner: two files at a time, each in its own process, spec
// reporter, and a forced exit once a file's tests are done (a file whose last test left a handle
// open must not hang the run). The forced exit loses verdicts unless every file's process writes
// its report pipe blocking (blockingReportPipe.ts).
import { fileURLToPath } from "node:url";

const blockingReportPipe = fileURLToPath(new URL("./blockingReportPipe.ts", import.meta.url));

/** Arguments for `node` that run `files` (and pass `extraFlags` on) the way `npm test` does. */
export function testRunnerArgs(files: string[], extraFlags: string[] = []): string[] {
  return [
    "--import",
    "tsx",
    "--import",
    blockingReportPipe,
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    "--test-force-exit",
    ...extraFlags,
    ...files,
  ];
}
