// Preloaded (`--import`) into every test file's process by `npm test` (test/harness/testRunner.ts).
// Each file's process streams its verdicts to the runner through its stdout, a pipe; a pipe write
// that does not fit is queued, and --test-force-exit then exits with it still queued: the runner
// silently reports fewer tests than ran, with exit code 0 (nodejs/node#64833). A blocking stdout
// makes every report write complete before the process can exit.
const stdoutHandle = (process.stdout as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
stdoutHandle?.setBlocking?.(true);
