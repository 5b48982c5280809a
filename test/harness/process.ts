// ManagedProcess and the child registry: shared with the dev stack, they live in
// src/dev/process.ts (children killed and temp dirs removed at exit, SIGINT, SIGTERM, SIGHUP).

export {
  cleanupSync,
  makeTempDir,
  ManagedProcess,
  pidAlive,
  removeTempDir,
  runningProcesses,
  sleep,
  tailFile,
  type ExitInfo,
  type ManagedProcessOptions,
} from "../../src/dev/process.js";
