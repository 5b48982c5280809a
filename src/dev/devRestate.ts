// The dev stack's restate-server (from node_modules) with its journal, state and registered
// deployments under <data>/restate. The ports it chose are saved there and preferred on the next
// run, so the node keeps the address it advertised when it provisioned itself.

import fs from "node:fs";
import path from "node:path";
import { restateTracingEnv } from "./restateTracing.js";
import { restateServerBinary } from "./binaries.js";
import { choosePort, LOOPBACK } from "./net.js";
import { ManagedProcess } from "./process.js";
import { healthy, restateServerEnv } from "./restate.js";
import { stopLeftoverProcess } from "./stalePid.js";
import { ensureIdentityKeyPair } from "../restate/identityKeys.js";

export interface DevRestate {
  adminUrl: string;
  ingressUrl: string;
  /** `publickeyv1_…` of the key it signs its requests with (kept in <data>/restate). */
  identityKey: string;
  pid: number;
  stop(): Promise<void>;
}

interface SavedPorts {
  ingress: number;
  admin: number;
  node: number;
}

// Restate's own defaults, so `restate` CLI and docs work unchanged; the Connect API is on 7080.
const DEFAULT_PORTS: SavedPorts = { ingress: 8080, admin: 9070, node: 5122 };

function readSavedPorts(file: string): SavedPorts {
  try {
    const saved = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<SavedPorts>;
    const valid = (p: unknown): p is number => Number.isInteger(p) && (p as number) > 0 && (p as number) < 65536;
    return {
      ingress: valid(saved.ingress) ? saved.ingress : DEFAULT_PORTS.ingress,
      admin: valid(saved.admin) ? saved.admin : DEFAULT_PORTS.admin,
      node: valid(saved.node) ? saved.node : DEFAULT_PORTS.node,
    };
  } catch {
    return DEFAULT_PORTS;
  }
}

export async function startDevRestate(dataRoot: string, takenPorts: Set<number>, say: (line: string) => void): Promise<DevRestate> {
  const binary = restateServerBinary();
  const dir = path.join(dataRoot, "restate");
  await fs.promises.mkdir(dir, { recursive: true });
  const pidFile = path.join(dir, "restate-server.pid");
  const leftover = await stopLeftoverProcess(pidFile, dir);
  if (leftover) say(`stopped restate-server pid ${leftover} left running by an earlier npm run dev`);

  const portsFile = path.join(dir, "ports.json");
  const preferred = readSavedPorts(portsFile);
  const ports: SavedPorts = { ingress: 0, admin: 0, node: 0 };
  for (const key of ["ingress", "admin", "node"] as const) {
    ports[key] = await choosePort(preferred[key], takenPorts);
    takenPorts.add(ports[key]);
  }
  await fs.promises.writeFile(portsFile, `${JSON.stringify(ports)}\n`);

  // It signs every request to the endpoint; switchyard accepts only those (as in production).
  const identity = ensureIdentityKeyPair(dir);
  const adminUrl = `http://${LOOPBACK}:${ports.admin}`;
  const ingressUrl = `http://${LOOPBACK}:${ports.ingress}`;
  const proc = new ManagedProcess({
    name: "restate-server",
    command: binary,
    args: ["--no-logo"],
    env: {
      ...restateServerEnv({
        baseDir: dir,
        ingressPort: ports.ingress,
        adminPort: ports.admin,
        nodePort: ports.node,
        nodeName: "switchyard-dev",
        partitions: 4,
      }),
      RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE: identity.pemFile,
      // restate-server's own tracing (RESTATE_TRACING_ENDPOINT…), when the developer set it: with
      // it restate-server continues switchyard's traces into the invocations.
      ...restateTracingEnv(process.env),
    },
    cwd: dir,
    logFile: path.join(dir, "restate-server.log"),
    stopTimeoutMs: 15_000,
    detached: true,
  });
  const started = performance.now();
  proc.start();
  await fs.promises.writeFile(pidFile, `${proc.pid}\n`);
  try {
    await proc.waitUntil(`admin ${adminUrl}/health`, () => healthy(`${adminUrl}/health`), 60_000, 50);
    await proc.waitUntil(`ingress ${ingressUrl}/restate/health`, () => healthy(`${ingressUrl}/restate/health`), 30_000, 50);
  } catch (error) {
    await proc.stop().catch(() => undefined);
    throw error;
  }
  say(`restate-server ready (admin ${adminUrl}, ingress ${ingressUrl}) in ${Math.round(performance.now() - started)} ms (log: ${proc.logFile})`);
  return {
    adminUrl,
    ingressUrl,
    identityKey: identity.publicKey,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      await fs.promises.rm(pidFile, { force: true });
    },
  };
}
