// `npm run dev`: the whole platform on one machine with nothing to configure.
//
//   mariadbd        <data>/mysql     (skipped when DATABASE_URL is set)
//   restate-server  <data>/restate   (skipped when RESTATE_ADMIN_URL is set)
//   migrate → switchyard serve (in this process) → register with restate → banner
//
// <data> is .data/ in the repository (SWITCHYARD_DEV_DATA_DIR overrides it). Ctrl-C or SIGTERM
// stops switchyard, then restate-server, then mariadbd, each cleanly; a second signal kills
// them at once. <data>/dev.json describes the running stack (URLs and pids) for scripts.

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
import { DEV_TENANT, devTokenFile, ensureDevToken } from "./devToken.js";
import { ensureDevMasterKey } from "./devMasterKey.js";
import { choosePort, LOOPBACK } from "./net.js";
import { cleanupSync, configureProcessRegistry } from "./process.js";

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
  // Stopped in reverse order of starting: switchyard, restate-server, mariadbd.
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
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (stopping) {
        cleanupSync();
        process.exit(130);
      }
      void shutdown(signal, 0);
    });
  }

  try {
    const takenPorts = new Set<number>();
    const apiPort = env.SWITCHYARD_PORT ? Number(env.SWITCHYARD_PORT) : await choosePort(8080, takenPorts);
    takenPorts.add(apiPort);
    const endpointPort = env.SWITCHYARD_ENDPOINT_PORT ? Number(env.SWITCHYARD_ENDPOINT_PORT) : await choosePort(9080, takenPorts);
    takenPorts.add(endpointPort);

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
    }

    const token = env.SWITCHYARD_API_TOKENS ? undefined : ensureDevToken(dataRoot);
    const config = loadConfig({
      ...env,
      SWITCHYARD_PORT: String(apiPort),
      SWITCHYARD_ENDPOINT_PORT: String(endpointPort),
      DATABASE_URL: databaseUrl,
      RESTATE_ADMIN_URL: restateAdminUrl,
      RESTATE_INGRESS_URL: restateIngressUrl,
      SWITCHYARD_API_TOKENS: env.SWITCHYARD_API_TOKENS || `${DEV_TENANT}=${token}`,
      SWITCHYARD_MASTER_KEYS: env.SWITCHYARD_MASTER_KEYS || ensureDevMasterKey(dataRoot),
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
    const state = {
      apiUrl,
      endpointUrl: `http://${LOOPBACK}:${running.endpointPort}`,
      restateAdminUrl,
      restateIngressUrl,
      restateUiUrl: `${restateAdminUrl}/ui/`,
      databaseUrl: databaseUrl.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@"),
      tokenFile: token ? devTokenFile(dataRoot) : undefined,
      pids: { dev: process.pid, mariadbd: mariadbPid, restateServer: restatePid },
    };
    fs.writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    printBanner(state, dataRoot);
  } catch (error) {
    if (error instanceof DevStackError || error instanceof ConfigError) say(error.message);
    else say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown("start failed", 1);
  }
}

function printBanner(state: { apiUrl: string; restateUiUrl: string; restateIngressUrl: string; databaseUrl: string; tokenFile?: string }, dataRoot: string): void {
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
    state.tokenFile ? `  API token     ${relative(state.tokenFile)} (tenant "${DEV_TENANT}")` : "  API tokens    from SWITCHYARD_API_TOKENS",
    "",
    "Try it:",
    `  curl -sS -H "Authorization: Bearer ${tokenExpr}" -H 'Content-Type: application/json' \\`,
    `    -d '{}' ${state.apiUrl}/ctrl.v1.CtrlService/Liveness`,
    `  export SWITCHYARD_URL=${state.apiUrl} SWITCHYARD_TOKEN=${tokenExpr}`,
    "  npm run switchyard -- deployments list --project <project-id>",
    "",
    "Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
}

void main();
