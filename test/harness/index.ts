// The test harness: real services on free loopback ports in temp dirs (docs/architecture.md, "Tests and benchmarks").
//
//   const stack = await startStack({ pebble: true, caddy: true });
//   after(() => stack.stop());
//   const app = await startSwitchyard(await stack.switchyardEnv());
//
// Every child is SIGKILLed and every temp dir removed when the test process exits or is
// interrupted — except, when the test file fails, those of a process that failed or died on its
// own (and of those running beside it), for a post-mortem; set SWITCHYARD_KEEP_TEMP=1 to keep
// every temp dir (logs, datadirs).

export { startAgent, type Agent, type AgentOptions, type RunRecordOnDisk } from "./agent.js";
export { findBinary, missingBinaries, MissingBinaryError, repoRoot, REQUIRED_BINARIES, requireBinary, restateServerBinary } from "./binaries.js";
export { startGateway, type Gateway, type GatewayOptions } from "./gateway.js";
export { removeAllContainers, resetStorage, runningContainers, startContainerEnv, type ContainerEnv } from "./containers.js";
export { startEndpointBalancer, type EndpointBalancer } from "./endpointBalancer.js";
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
export { startPrometheus, type Prometheus, type PrometheusOptions, type PrometheusSample } from "./prometheus.js";
export { startRestate, type InvocationInFlight, type Restate, type RestateOptions } from "./restate.js";
export { startRestateCluster, type RestateCluster, type RestateClusterOptions } from "./restateCluster.js";
export { startStack, type Stack, type StackOptions } from "./stack.js";
export { startSwitchyard, type Switchyard, type SwitchyardOptions } from "./switchyard.js";
export { startUnbound, type Unbound, type UnboundOptions } from "./unbound.js";
