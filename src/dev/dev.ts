// `npm run dev`: the whole platform on one machine with nothing to configure.
//
//   mariadbd        <data>/mysql     (skipped when DATABASE_URL is set)
//   restate-server  <data>/restate   (skipped when RESTATE_ADMIN_URL is set)
//   migrate → switchyard serve (in this process) → register with restate
//   docker-registry <data>/registry  + podman storage <data>/podman  (when podman is installed)
//   switchyard agent  <data>/agent   (the first region's deployments; container driver with
//                                     podman, process driver otherwise)
//   caddy + switchyard gateway  <data>/caddy, <data>/gateway (when caddy is installed) → banner
//
// <data> is .data/ in the repository (SWITCHYARD_DEV_DATA_DIR overrides it). Ctrl-C or SIGTERM
// — or the output pipe closing (`| tee` killed by the same Ctrl-C) — stops the agent (and its
// instances), switchyard, then restate-server, then mariadbd, each cleanly; a second signal kills
// them at once. <data>/dev.json describes the running stack (URLs and pids) for scripts.

// Before anything that loads mysql2: the dev stack's switchyard traces when OTEL_* says so.
import "../telemetry/traceDevStack.js";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, loadConfig } from "../config.js";
import { createDb, ensureDatabase } from "../db/connect.js";
import { migrateToLatest } from "../db/migrate.js";
import { createLogger } from "../log.js";
import { startSwitchyard, type RunningSwitchyard } from "../serve.js";
import { repoRoot } from "./binaries.js";
import { DevStackError, startDevMariaDb } from "./devMariaDb.js";
import { startDevRestate } from "./devRestate.js";
import { DEV_TENANT, devAgentTokenFile, devRegion, devTokenFile, ensureDevAgentToken, ensureDevToken } from "./devToken.js";
import { startDevAgent } from "./devAgent.js";
import { startDevGateway, type DevGateway } from "./devGateway.js";
import { devDriver, startDevContainers, type DevContainers } from "./devContainers.js";
import { ensureDevMasterKey } from "./devMasterKey.js";
import { choosePort, LOOPBACK } from "./net.js";
import { cleanupSync, configureProcessRegistry } from "./process.js";
import { writeJsonAtomic } from "../cluster/client/files.js";

const SHUTDOWN_LIMIT_MS = 45_000;

type Stopper = { name: string; stop: () => Promise<void> };

function say(line: string): void {
  process.stderr.write(`dev: ${line}\n`);
}

async function main(): Promise<void> {
  configureProcessRegistry({ handleSignals: false });
  const env = process.env;
  const dataRoot = path.resolve(env.SWITCHYARD_DEV_DATA_DIR || path.join(repoRoot, ".data"));
  await fs.promises.mkdir(dataRoot, { recursive: true });
  const stateFile = path.join(dataRoot, "dev.json");
  // Stopped in reverse order of starting: agent, switchyard, restate-server, mariadbd.
  const stoppers: Stopper[] = [];
  let stopping = false;

  const shutdown = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    say(`${reason}: stopping (press Ctrl-C again to kill everything at once)`);
    const limit = setTimeout(() => {
      say(`not stopped after ${SHUTDOWN_LIMIT_MS / 1000} s: killing what is left`);
      cleanupSync();
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    for (const { name, stop } of stoppers.reverse()) {
      await stop().then(
        () => say(`${name} stopped`),
        (error: Error) => say(`${name} did not stop cleanly: ${error.message}`),
      );
    }
    clearTimeout(limit);
    fs.rmSync(stateFile, { force: true });
    process.exit(exitCode);
  };
  // A second signal kills everything at once. Counted apart from `stopping`: with `| tee`, one
  // Ctrl-C kills tee too, and a write to the dead pipe may start the stop before this process's
  // own SIGINT arrives — that SIGINT is still the first Ctrl-C, not the impatient second one.
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (++signals > 1) {
        cleanupSync();
        process.exit(130);
      }
      void shutdown(signal, 0);
    });
  }
  // `npm run dev | tee log`, then Ctrl-C: tee dies first and the next write to the closed pipe
  // fails with EPIPE (Node ignores SIGPIPE) — an 'error' event that would kill this process, and
  // the exit hook would SIGKILL mariadbd and restate-server. Nobody reads the output any more:
  // stop in order, as on Ctrl-C (later writes to the dead stream fail the same way, quietly).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
      void shutdown("output closed", 0);
    });
  }

  try {
    const takenPorts = new Set<number>();
    const apiPort = env.SWITCHYARD_PORT ? Number(env.SWITCHYARD_PORT) : await choosePort(7080, takenPorts);
    takenPorts.add(apiPort);
    const endpointPort = env.SWITCHYARD_ENDPOINT_PORT ? Number(env.SWITCHYARD_ENDPOINT_PORT) : await choosePort(9080, takenPorts);
    takenPorts.add(endpointPort);
    // Prometheus endpoints of switchyard and the agent (Prometheus' own convention: 9464 and up).
    const metricsListen = env.SWITCHYARD_METRICS_LISTEN ?? `${LOOPBACK}:${await choosePort(9464, takenPorts)}`;
    takenPorts.add(Number(metricsListen.split(":").pop()));
    const agentMetricsListen = env.SWITCHYARD_AGENT_METRICS_LISTEN ?? `${LOOPBACK}:${await choosePort(9465, takenPorts)}`;
    takenPorts.add(Number(agentMetricsListen.split(":").pop()));

    let databaseUrl = env.DATABASE_URL;
    let mariadbPid: number | undefined;
    if (databaseUrl) {
      say(`using the database of DATABASE_URL`);
    } else {
      const mariadb = await startDevMariaDb(dataRoot, takenPorts, say);
      stoppers.push({ name: "mariadbd", stop: mariadb.stop });
      databaseUrl = mariadb.url;
      mariadbPid = mariadb.pid;
    }

    let restateAdminUrl = env.RESTATE_ADMIN_URL;
    let restateIngressUrl = env.RESTATE_INGRESS_URL;
    let restatePid: number | undefined;
    let restateIdentityKey: string | undefined;
    if (restateAdminUrl || restateIngressUrl) {
      if (!restateAdminUrl || !restateIngressUrl) {
        throw new DevStackError("set both RESTATE_ADMIN_URL and RESTATE_INGRESS_URL to use an external restate-server, or neither");
      }
      say(`using the restate-server of RESTATE_ADMIN_URL`);
    } else {
      const restate = await startDevRestate(dataRoot, takenPorts, say);
      stoppers.push({ name: "restate-server", stop: restate.stop });
      restateAdminUrl = restate.adminUrl;
      restateIngressUrl = restate.ingressUrl;
      restatePid = restate.pid;
      restateIdentityKey = restate.identityKey;
    }

    const driver = devDriver(env);
    let containers: DevContainers | undefined;
    if (driver === "container") {
      containers = await startDevContainers(dataRoot, takenPorts, say);
      stoppers.push({ name: "registry", stop: containers.stop });
    }

    const token = env.SWITCHYARD_API_TOKENS ? undefined : ensureDevToken(dataRoot);
    const agentToken = env.SWITCHYARD_AGENT_TOKENS ? undefined : ensureDevAgentToken(dataRoot);
    const config = loadConfig({
      ...containers?.serveEnv,
      ...env,
      SWITCHYARD_PORT: String(apiPort),
      SWITCHYARD_ENDPOINT_PORT: String(endpointPort),
      SWITCHYARD_METRICS_LISTEN: metricsListen,
      DATABASE_URL: databaseUrl,
      RESTATE_ADMIN_URL: restateAdminUrl,
      RESTATE_INGRESS_URL: restateIngressUrl,
      SWITCHYARD_API_TOKENS: env.SWITCHYARD_API_TOKENS || `${DEV_TENANT}=${token}`,
      SWITCHYARD_AGENT_TOKENS: env.SWITCHYARD_AGENT_TOKENS || `${devRegion(env)}=${agentToken}`,
      SWITCHYARD_MASTER_KEYS: env.SWITCHYARD_MASTER_KEYS || ensureDevMasterKey(dataRoot),
      // Only our restate-server's signed requests reach the endpoint; webhooks may reach loopback.
      SWITCHYARD_RESTATE_IDENTITY_KEYS: env.SWITCHYARD_RESTATE_IDENTITY_KEYS || restateIdentityKey,
      SWITCHYARD_OUTBOUND_ALLOWED_RANGES: env.SWITCHYARD_OUTBOUND_ALLOWED_RANGES ?? "127.0.0.0/8,::1/128",
    });

    await ensureDatabase(config.databaseUrl);
    const db = createDb(config.databaseUrl);
    try {
      const applied = await migrateToLatest(db);
      say(applied.length ? `applied migrations: ${applied.join(", ")}` : "schema is up to date");
    } finally {
      await db.destroy();
    }

    const running: RunningSwitchyard = await startSwitchyard(config, createLogger(config.logLevel));
    stoppers.push({ name: "switchyard", stop: running.close });

    const apiUrl = `http://${LOOPBACK}:${running.apiPort}`;
    const region = config.regions[0]!;
    // The region credential the dev agent calls with: SWITCHYARD_AGENT_TOKEN, else the region's first.
    const agentCredential = env.SWITCHYARD_AGENT_TOKEN || config.agentTokens.find((t) => t.region === region)?.token;
    if (!agentCredential) throw new Error(`SWITCHYARD_AGENT_TOKENS has no token for region "${region}", which the dev agent serves`);
    const agent = await startDevAgent(dataRoot, { apiUrl, token: agentCredential, region, metricsListen: agentMetricsListen, env: containers?.agentEnv }, say);
    stoppers.push({ name: "agent", stop: agent.stop });
    const gateway: DevGateway | undefined = await startDevGateway(
      dataRoot,
      { apiUrl, token: agentCredential, region, takenPorts, register: (name, stop) => stoppers.push({ name, stop }) },
      say,
    );
    const state = {
      apiUrl,
      endpointUrl: `http://${LOOPBACK}:${running.endpointPort}`,
      restateAdminUrl,
      restateIngressUrl,
      restateUiUrl: `${restateAdminUrl}/ui/`,
      metricsUrls: [running.metrics?.url, /:\d+$/.test(agentMetricsListen) ? `http://${agentMetricsListen}/metrics` : undefined].filter((u): u is string => Boolean(u)),
      databaseUrl: databaseUrl.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@"),
      tokenFile: token ? devTokenFile(dataRoot) : undefined,
      agentTokenFile: agentToken ? devAgentTokenFile(dataRoot) : undefined,
      pids: { dev: process.pid, mariadbd: mariadbPid, restateServer: restatePid, agent: agent.pid, ...(gateway ? gateway.pids : {}) },
      agent: { region, driver, stateDir: agent.stateDir, logFile: agent.logFile },
      registry: containers?.registryHost,
      ...(gateway ? { gateway: { httpPort: gateway.httpPort, caddyAdminUrl: gateway.caddyAdminUrl, frontAdminUrl: gateway.frontAdminUrl, logFile: gateway.logFile }, platformApex: config.platformApex } : {}),
    };
    // Whole or not at all: scripts (and the tests) read it as soon as it appears.
    await writeJsonAtomic(stateFile, state, 0o644);
    printBanner(state, dataRoot);
  } catch (error) {
    if (error instanceof DevStackError || error instanceof ConfigError) say(error.message);
    else say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown("start failed", 1);
  }
}

function printBanner(
  state: {
    apiUrl: string;
    restateUiUrl: string;
    restateIngressUrl: string;
    databaseUrl: string;
    tokenFile?: string;
    agentTokenFile?: string;
    gateway?: { httpPort: number; caddyAdminUrl: string; frontAdminUrl: string };
    platformApex?: string;
    metricsUrls: string[];
    registry?: string;
  },
  dataRoot: string,
): void {
  // Short paths when the data lives under the current directory, absolute ones otherwise.
  const relative = (file: string) => {
    const rel = path.relative(process.cwd(), file);
    return rel && !rel.startsWith("..") ? rel : file;
  };
  const tokenExpr = state.tokenFile ? `$(cat ${relative(state.tokenFile)})` : "<your token>";
  const lines = [
    "",
    `Switchyard is running (data in ${relative(dataRoot)}/)`,
    `  Connect API   ${state.apiUrl}   (Connect, gRPC and gRPC-web; HTTP/1.1 and h2c)`,
    `  Restate UI    ${state.restateUiUrl}`,
    `  Ingress       ${state.restateIngressUrl}`,
    `  Database      ${state.databaseUrl}`,
    state.gateway ? `  Gateway       http://${LOOPBACK}:${state.gateway.httpPort}   (by Host header; front Caddy admin ${state.gateway.frontAdminUrl}, routing Caddy admin ${state.gateway.caddyAdminUrl})` : "  Gateway       none (install caddy to route by hostname)",
    ...(state.metricsUrls.length > 0 ? [`  Metrics       ${state.metricsUrls.join("   ")}   (switchyard, agent)`] : []),
    state.tokenFile ? `  API token     ${relative(state.tokenFile)} (tenant "${DEV_TENANT}")` : "  API tokens    from SWITCHYARD_API_TOKENS",
    ...(state.registry ? [`  Registry      ${state.registry}   (builds from git are pushed here; agent: container driver)`] : []),
    state.agentTokenFile ? `  Agent token   ${relative(state.agentTokenFile)} (region "${devRegion()}")` : "  Agent tokens  from SWITCHYARD_AGENT_TOKENS",
    "",
    "Try it:",
    `  curl -sS -H "Authorization: Bearer ${tokenExpr}" -H 'Content-Type: application/json' \\`,
    `    -d '{}' ${state.apiUrl}/ctrl.v1.CtrlService/Liveness`,
    "",
    ...sampleAppLines(state.apiUrl, tokenExpr, state.registry !== undefined, state.gateway && state.platformApex ? { port: state.gateway.httpPort, apex: state.platformApex } : undefined),
    "",
    "Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
}

/**
 * The copyable deploy of examples/hello and the curl that reaches it at the address the agent
 * reported: built from this checkout's git HEAD and run as a container when the stack has a
 * registry, else run as a local process.
 */
function sampleAppLines(apiUrl: string, tokenExpr: string, containers: boolean, gateway?: { port: number; apex: string }): string[] {
  const server = path.join(repoRoot, "examples", "hello", "server.js");
  const cli = "npm run -s switchyard --";
  const deploy = containers
    ? `  DEP=$(${cli} deploy --workspace "$WS" --project "$PRJ" --env production --git-sha "$(git -C '${repoRoot}' rev-parse HEAD)" --branch main --repository '${repoRoot}' --directory examples/hello --port 8080 --wait --quiet)`
    : `  DEP=$(${cli} deploy --workspace "$WS" --project "$PRJ" --env production --image hello:1.0.0 --command node '${server}' --wait --quiet)`;
  return [
    containers
      ? "Deploy the sample app (examples/hello) from this checkout's git HEAD: built, pushed, run as a container:"
      : "Deploy the sample app (examples/hello); the agent runs it and reports its address:",
    `  export SWITCHYARD_URL=${apiUrl} SWITCHYARD_TOKEN=${tokenExpr}`,
    `  WS=$(${cli} workspaces create demo --quiet)`,
    `  PRJ=$(${cli} projects create hello --workspace "$WS" --quiet)`,
    deploy,
    `  curl http://$(${cli} deployments instances "$DEP" --quiet | head -n1)/`,
    // Through the gateway, at the live hostname (<project>-<workspace>.<apex>); the retries cover
    // the few milliseconds between "live" and Caddy's reload.
    ...(gateway
      ? [`  curl -sS --fail --retry 5 --retry-all-errors --retry-delay 1 --resolve hello-demo.${gateway.apex}:${gateway.port}:${LOOPBACK} http://hello-demo.${gateway.apex}:${gateway.port}/`]
      : []),
  ];
}

void main();
