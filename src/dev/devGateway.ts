// The dev stack's data plane, when `caddy` is installed: two private Caddys — the routing one
// (<data>/caddy, admin 2019 or the next free port) and the front (<data>/caddy-front, admin 2020
// or the next free port; it holds the client listeners and TLS), each with HOME/XDG dirs and
// storage of its own, nothing autosaved — and `switchyard gateway` for the first region (state
// under <data>/gateway, log <data>/gateway.log) driving both, HTTP on a loopback port (8088 or
// the next free one). Started after the agent, stopped before it (the gateway first, then the
// Caddys; each registered with the caller as soon as it is spawned). Children a SIGKILLed dev process left behind are stopped first.

import fs from "node:fs";
import path from "node:path";
import { findBinary, repoRoot } from "./binaries.js";
import { canConnect, choosePort, LOOPBACK } from "./net.js";
import { ManagedProcess } from "./process.js";
import { stopLeftoverProcess } from "./stalePid.js";

export interface DevGateway {
  httpPort: number;
  httpsPort: number;
  /** The routing Caddy's admin API (reloaded on every change). */
  caddyAdminUrl: string;
  /** The front Caddy's admin API (client listeners, TLS; loaded once). */
  frontAdminUrl: string;
  logFile: string;
  pids: { caddy: number; caddyFront: number; gateway: number };
}

const READY_TIMEOUT_MS = 60_000;

/** Undefined (and a line saying so) when caddy is not installed. */
export async function startDevGateway(
  dataRoot: string,
  opts: { apiUrl: string; token: string; region: string; takenPorts: Set<number>; register: (name: string, stop: () => Promise<void>) => void },
  say: (line: string) => void,
): Promise<DevGateway | undefined> {
  const caddyBin = findBinary("caddy");
  if (!caddyBin) {
    say("caddy is not installed (apt-get install caddy): no gateway, the sample app answers on its instance address only");
    return undefined;
  }
  const stateDir = path.join(dataRoot, "gateway");
  const gatewayPidFile = path.join(dataRoot, "gateway.pid");
  const leftover = await stopLeftoverProcess(gatewayPidFile, stateDir, 15_000);
  if (leftover) say(`stopped the gateway pid ${leftover} left running by an earlier npm run dev`);

  const pick = async (preferred: number) => {
    const port = await choosePort(preferred, opts.takenPorts);
    opts.takenPorts.add(port);
    return port;
  };
  const routing = await startDevCaddy(dataRoot, "caddy", await pick(2019), caddyBin, opts.register, say);
  const front = await startDevCaddy(dataRoot, "caddy-front", await pick(2020), caddyBin, opts.register, say);
  const httpPort = await pick(8088);
  const httpsPort = await pick(8443);
  const routingHttpPort = await pick(8089);
  const routingHttpsPort = await pick(8444);
  const caddyAdminUrl = routing.adminUrl;

  const logFile = path.join(dataRoot, "gateway.log");
  const gateway = new ManagedProcess({
    name: "gateway",
    command: process.execPath,
    args: ["--import", "tsx", path.join("src", "main.ts"), "gateway"],
    env: {
      ...process.env,
      SWITCHYARD_URL: opts.apiUrl,
      SWITCHYARD_GATEWAY_TOKEN: opts.token,
      SWITCHYARD_GATEWAY_REGION: opts.region,
      SWITCHYARD_GATEWAY_ROUTER: "caddy",
      SWITCHYARD_GATEWAY_CADDY_ADMIN: caddyAdminUrl,
      SWITCHYARD_GATEWAY_FRONT_ADMIN: front.adminUrl,
      SWITCHYARD_GATEWAY_HTTP_LISTEN: `${LOOPBACK}:${httpPort}`,
      SWITCHYARD_GATEWAY_HTTPS_LISTEN: `${LOOPBACK}:${httpsPort}`,
      SWITCHYARD_GATEWAY_ROUTING_HTTP_LISTEN: `${LOOPBACK}:${routingHttpPort}`,
      SWITCHYARD_GATEWAY_ROUTING_HTTPS_LISTEN: `${LOOPBACK}:${routingHttpsPort}`,
      SWITCHYARD_GATEWAY_STATE_DIR: stateDir,
      SWITCHYARD_GATEWAY_CADDY_DATA_DIR: routing.dataDir,
    },
    cwd: repoRoot,
    logFile,
    stopTimeoutMs: 30_000,
    detached: true,
  });
  gateway.start();
  opts.register("gateway", async () => {
    await gateway.stop();
    await fs.promises.rm(gatewayPidFile, { force: true });
  });
  await fs.promises.writeFile(gatewayPidFile, `${gateway.pid}\n`);
  await gateway.waitUntil(`the gateway's HTTP server on ${LOOPBACK}:${httpPort}`, () => canConnect(httpPort), READY_TIMEOUT_MS, 50);
  say(`gateway running for region ${opts.region} (pid ${gateway.pid}, log ${path.relative(process.cwd(), logFile) || logFile}): front Caddy pid ${front.pid} (HTTP ${LOOPBACK}:${httpPort}, admin ${front.adminUrl}), routing Caddy pid ${routing.pid} (admin ${caddyAdminUrl})`);
  return {
    httpPort,
    httpsPort,
    caddyAdminUrl,
    frontAdminUrl: front.adminUrl,
    logFile,
    pids: { caddy: routing.pid, caddyFront: front.pid, gateway: gateway.pid },
  };
}

/**
 * One private Caddy under <data>/<name> (HOME/XDG dirs and storage there, log <data>/<name>.log,
 * pid file <data>/<name>.pid) with only its admin endpoint: the gateway's first /load brings
 * the servers. Registered with the caller as soon as it is spawned.
 */
async function startDevCaddy(
  dataRoot: string,
  name: string,
  adminPort: number,
  caddyBin: string,
  register: (name: string, stop: () => Promise<void>) => void,
  say: (line: string) => void,
): Promise<{ adminUrl: string; dataDir: string; pid: number }> {
  const caddyDir = path.join(dataRoot, name);
  const pidFile = path.join(dataRoot, `${name}.pid`);
  const leftover = await stopLeftoverProcess(pidFile, caddyDir, 15_000);
  if (leftover) say(`stopped the ${name} pid ${leftover} left running by an earlier npm run dev`);
  const dirs = { config: path.join(caddyDir, "config"), data: path.join(caddyDir, "data"), cache: path.join(caddyDir, "cache") };
  for (const dir of Object.values(dirs)) await fs.promises.mkdir(dir, { recursive: true });
  const adminUrl = `http://${LOOPBACK}:${adminPort}`;
  const bootConfig = path.join(caddyDir, "boot.json");
  await fs.promises.writeFile(bootConfig, JSON.stringify({ admin: { listen: `${LOOPBACK}:${adminPort}`, config: { persist: false } }, storage: { module: "file_system", root: dirs.data } }));
  const caddy = new ManagedProcess({
    name,
    command: caddyBin,
    args: ["run", "--config", bootConfig],
    env: { PATH: process.env.PATH, HOME: caddyDir, XDG_CONFIG_HOME: dirs.config, XDG_DATA_HOME: dirs.data, XDG_CACHE_HOME: dirs.cache },
    cwd: caddyDir,
    logFile: path.join(dataRoot, `${name}.log`),
    stopTimeoutMs: 15_000,
    detached: true,
  });
  caddy.start();
  // Registered at once: a Ctrl-C while the gateway starts still stops Caddy.
  register(name, async () => {
    await caddy.stop();
    await fs.promises.rm(pidFile, { force: true });
  });
  await fs.promises.writeFile(pidFile, `${caddy.pid}\n`);
  await caddy.waitUntil(`${name}'s admin API on ${adminUrl}`, () => canConnect(adminPort), READY_TIMEOUT_MS, 50);
  return { adminUrl, dataDir: dirs.data, pid: caddy.pid };
}
