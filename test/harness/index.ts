// The test harness: real services on free loopback ports in temp dirs (ARCHITECTURE.md §7).
//
//   const stack = await startStack({ pebble: true, caddy: true });
//   after(() => stack.stop());
//   const app = await startSwitchyard(await stack.switchyardEnv());
//
// Every child is SIGKILLed and every temp dir removed when the test process exits or is
// interrupted; set SWITCHYARD_KEEP_TEMP=1 to keep the temp dirs (logs, datadirs) for a post-mortem.

export { findBinary, missingBinaries, MissingBinaryError, repoRoot, REQUIRED_BINARIES, requireBinary, restateServerBinary } from "./binaries.js";
export { startCaddy, type Caddy, type CaddyConfig, type CaddyOptions, type CaddyRoute } from "./caddy.js";
export { mariadbTemplate, startMariaDb, type MariaDb, type MariaDbOptions } from "./mariadb.js";
export { canConnect, freePort, freeTcpUdpPort, httpRequest, LOOPBACK, type HttpRequestOptions, type HttpResponse } from "./net.js";
export { startPebble, type ChallTestSrv, type Pebble, type PebbleOptions } from "./pebble.js";
export {
  cleanupSync,
  makeTempDir,
  ManagedProcess,
  pidAlive,
  removeTempDir,
  runningProcesses,
  sleep,
  type ExitInfo,
  type ManagedProcessOptions,
} from "./process.js";
export { startRestate, type Restate, type RestateOptions } from "./restate.js";
export { startStack, type Stack, type StackOptions } from "./stack.js";
export { startSwitchyard, type Switchyard, type SwitchyardOptions } from "./switchyard.js";
export { startUnbound, type Unbound, type UnboundOptions } from "./unbound.js";
