// `npm run dev` as a developer runs it: a real child process with its own data directory.
// First run initialises MariaDB and restate-server, Ctrl-C (SIGINT) stops every child, a second
// run reuses the data; with DATABASE_URL and RESTATE_* set it starts neither of its own.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { processWorksOn } from "../src/dev/stalePid.js";
import { listDeployments } from "../src/restate/admin.js";
import { freePort, makeTempDir, ManagedProcess, pidAlive, removeTempDir, repoRoot, startMariaDb, startRestate } from "./harness/index.js";
import { until } from "./support/until.js";

interface DevState {
  apiUrl: string;
  endpointUrl: string;
  restateAdminUrl: string;
  databaseUrl: string;
  tokenFile?: string;
  agentTokenFile?: string;
  pids: { dev: number; mariadbd?: number; restateServer?: number; agent?: number; caddy?: number; caddyFront?: number; gateway?: number };
}

const dirs: string[] = [];
// The harness SIGKILLs the dev process if this file dies early; its children run in their own
// process group and would outlive it, so the pids they reported are killed here too — only while
// the pid still works on that dev stack's data dir: a pid recycled since belongs to someone else
// (another test file's process, running beside this one).
const devChildren = new Map<number, string>();
const killDevChildren = () => {
  for (const [pid, dataDir] of devChildren) if (processWorksOn(pid, dataDir)) process.kill(pid, "SIGKILL");
};
process.on("exit", killDevChildren);
after(async () => {
  killDevChildren();
  for (const dir of dirs) await removeTempDir(dir);
});

const DEV_ARGS = ["--import", "tsx", path.join("src", "dev", "dev.ts")];

/** This process's environment without our own settings, plus a data dir and free API ports. */
async function devEnv(dataDir: string, extraEnv: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(DATABASE_URL|RESTATE_|SWITCHYARD_)/.test(key)) env[key] = value;
  }
  return {
    ...env,
    SWITCHYARD_DEV_DATA_DIR: dataDir,
    SWITCHYARD_PORT: String(await freePort()),
    SWITCHYARD_ENDPOINT_PORT: String(await freePort()),
    SWITCHYARD_LOG_LEVEL: "warn",
    ...extraEnv,
  };
}

/** Every child a dev stack's dev.json names (the database, restate-server, the agent, the gateway and its Caddys). */
function childPids(state: DevState): number[] {
  return Object.entries(state.pids).flatMap(([name, pid]) => (name !== "dev" && pid ? [pid] : []));
}

/** Waits (bounded) for the dev stack's dev.json and remembers the children it names. */
async function devStateOf(dataDir: string, waitUntil: (what: string, check: () => Promise<boolean>) => Promise<void>): Promise<DevState> {
  const stateFile = path.join(dataDir, "dev.json");
  await waitUntil(`${stateFile} to appear`, async () => fs.existsSync(stateFile));
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as DevState;
  for (const pid of childPids(state)) devChildren.set(pid, dataDir);
  return state;
}

async function runDev(dataDir: string, label: string, extraEnv: Record<string, string> = {}): Promise<{ proc: ManagedProcess; state: DevState }> {
  const proc = new ManagedProcess({
    name: "npm-run-dev",
    command: process.execPath,
    args: DEV_ARGS,
    env: await devEnv(dataDir, extraEnv),
    cwd: repoRoot,
    logFile: path.join(path.dirname(dataDir), `${label}.log`),
    stopTimeoutMs: 30_000,
  });
  proc.start();
  const state = await devStateOf(dataDir, (what, check) => proc.waitUntil(what, check, 90_000, 100));
  return { proc, state };
}

async function rpc(state: DevState, token: string, method: string, body: object): Promise<{ status: number; json: any }> {
  const res = await fetch(`${state.apiUrl}/ctrl.v1.${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Sends `signal` to the dev process and waits (bounded) for it to exit; returns its exit code. */
async function stopWith(proc: ManagedProcess, signal: NodeJS.Signals): Promise<number | null> {
  proc.sendSignal(signal, "the test");
  // A ref'd timer: the child is unref'd, so without it nothing would keep this process waiting.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 60_000);
  });
  const exit = await Promise.race([proc.whenExited(), timeout]);
  clearTimeout(timer);
  assert.ok(exit, `npm run dev did not exit within 60 s of ${signal}\n${proc.logs(40)}`);
  return exit.code;
}

describe("npm run dev", () => {
  it("starts the stack, answers the printed curl, stops every child on Ctrl-C and reuses its data", async () => {
    const base = await makeTempDir("dev-stack");
    dirs.push(base);
    const dataDir = path.join(base, "data");

    const first = await runDev(dataDir, "first");
    const tokenFile = first.state.tokenFile!;
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600, "the dev token is readable by its owner only");
    const token = fs.readFileSync(tokenFile, "utf8").trim();
    assert.equal((await rpc(first.state, token, "CtrlService/Liveness", {})).json.status, "ok");
    assert.equal((await rpc(first.state, "wrong-token-wrong-token", "CtrlService/Liveness", {})).status, 401);
    // The dev region's agent credential: kept like the API token, accepted by ClusterService only.
    const agentTokenFile = first.state.agentTokenFile!;
    assert.equal(fs.statSync(agentTokenFile).mode & 0o777, 0o600, "the agent token is readable by its owner only");
    const agentToken = fs.readFileSync(agentTokenFile, "utf8").trim();
    assert.equal((await rpc(first.state, agentToken, "ClusterService/Heartbeat", { region: "local", agentId: "dev-agent" })).status, 200);
    assert.equal((await rpc(first.state, token, "ClusterService/Heartbeat", { region: "local", agentId: "dev-agent" })).status, 403);
    const created = await rpc(first.state, token, "DeployService/CreateWorkspace", { slug: "kept", name: "Kept across runs" });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const workspaceId: string = created.json.workspace.id;
    const registered = await listDeployments(first.state.restateAdminUrl);
    assert.ok(registered.some((d) => d.uri?.startsWith(first.state.endpointUrl)), "switchyard is registered with restate");
    assert.match(first.proc.logs(200), /Restate UI\s+http:\/\/127\.0\.0\.1:\d+\/ui\//);
    assert.match(first.proc.logs(200), /curl -sS -H "Authorization: Bearer/);
    // Root over TCP needs the generated password (kept readable by its owner only).
    const dbPort = Number(new URL(first.state.databaseUrl).port);
    await assert.rejects(mysql.createConnection({ host: "127.0.0.1", port: dbPort, user: "root", connectTimeout: 2000 }), /Access denied/);
    assert.equal(fs.statSync(path.join(dataDir, "mysql", "root-password")).mode & 0o777, 0o600);

    const children = childPids(first.state);
    for (const name of ["mariadbd", "restateServer", "agent"] as const) assert.ok(first.state.pids[name], `dev.json names the ${name} pid`);
    assert.ok(children.every(pidAlive));
    assert.equal(await stopWith(first.proc, "SIGINT"), 0);
    assert.deepEqual(children.filter(pidAlive), [], "no child outlives npm run dev");
    children.forEach((pid) => devChildren.delete(pid));
    assert.equal(fs.existsSync(path.join(dataDir, "dev.json")), false);

    const second = await runDev(dataDir, "second");
    try {
      assert.equal(fs.readFileSync(tokenFile, "utf8").trim(), token, "the same token on the second run");
      assert.equal(fs.readFileSync(second.state.agentTokenFile!, "utf8").trim(), agentToken, "the same agent token on the second run");
      const found = await rpc(second.state, token, "DeployService/GetWorkspace", { workspaceId });
      assert.equal(found.status, 200, JSON.stringify(found.json));
      assert.equal(found.json.workspace.slug, "kept");
      assert.match(first.proc.logs(400), /initialising a MariaDB datadir/);
      assert.doesNotMatch(second.proc.logs(400), /initialising/, "the second run reuses the datadir");
    } finally {
      assert.equal(await stopWith(second.proc, "SIGTERM"), 0);
    }
    const secondChildren = childPids(second.state);
    assert.deepEqual(secondChildren.filter(pidAlive), []);
    secondChildren.forEach((pid) => devChildren.delete(pid));
  });

  it("uses DATABASE_URL and RESTATE_* instead of starting its own", async () => {
    const base = await makeTempDir("dev-external");
    dirs.push(base);
    const [mariadb, restate] = await Promise.all([startMariaDb(), startRestate()]);
    try {
      const token = "external-token-0123456789";
      const { proc, state } = await runDev(path.join(base, "data"), "external", {
        DATABASE_URL: mariadb.url,
        RESTATE_ADMIN_URL: restate.adminUrl,
        RESTATE_INGRESS_URL: restate.ingressUrl,
        SWITCHYARD_API_TOKENS: `ext=${token}`,
        SWITCHYARD_RESTATE_IDENTITY_KEYS: restate.identityKey,
      });
      try {
        assert.equal(state.pids.mariadbd, undefined);
        assert.equal(state.pids.restateServer, undefined);
        assert.equal(state.tokenFile, undefined);
        assert.equal((await rpc(state, token, "CtrlService/Liveness", {})).json.status, "ok");
        assert.ok((await listDeployments(restate.adminUrl)).some((d) => d.uri?.startsWith(state.endpointUrl)));
      } finally {
        assert.equal(await stopWith(proc, "SIGINT"), 0);
      }
    } finally {
      await Promise.all([mariadb.stop(), restate.stop()]);
    }
  });

  it("stops every child cleanly when its output pipe closes before Ctrl-C (npm run dev 2>&1 | tee log)", async () => {
    const base = await makeTempDir("dev-pipe");
    dirs.push(base);
    const dataDir = path.join(base, "data");
    // Output into a pipe this test reads, as tee would; info-level logs keep writing to it.
    const dev = spawn(process.execPath, DEV_ARGS, { cwd: repoRoot, env: await devEnv(dataDir, { SWITCHYARD_LOG_LEVEL: "info" }), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const stream of [dev.stdout, dev.stderr]) stream.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => dev.once("exit", (code) => resolve(code)));
    try {
      const state = await devStateOf(dataDir, async (what, check) => void (await until(what, check, 90_000, 100)));
      const children = childPids(state);
      const token = fs.readFileSync(state.tokenFile!, "utf8").trim();

      // The banner is written after dev.json: wait for it, so the pipe closes once the stack is
      // up (closed earlier, the banner's write starts the stop by itself — see dev.ts's signals).
      await until("the banner", async () => output.includes("Ctrl-C stops everything."), 30_000, 50);
      // Ctrl-C in the terminal: tee goes first, then the dev process gets its SIGINT — and it
      // writes to the dead pipe meanwhile (its "stopping" lines).
      dev.stdout.destroy();
      dev.stderr.destroy();
      assert.equal((await rpc(state, token, "CtrlService/Liveness", {})).json.status, "ok");
      process.kill(dev.pid!, "SIGINT");
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 60_000).unref());
      const code = await Promise.race([exited, timeout]);
      assert.equal(code, 0, `npm run dev exits 0 (got ${code})\n${output}`);

      assert.deepEqual(children.filter(pidAlive), [], "no child outlives npm run dev");
      children.forEach((pid) => devChildren.delete(pid));
      assert.equal(fs.existsSync(path.join(dataDir, "dev.json")), false, "dev.json removed");
      assert.equal(fs.existsSync(path.join(dataDir, "restate", "restate-server.pid")), false, "restate-server's pid file removed");
      const mariadbLog = fs.readFileSync(path.join(dataDir, "mysql", "mariadbd.log"), "utf8");
      assert.match(mariadbLog.slice(mariadbLog.lastIndexOf("ready for connections")), /Shutdown complete/, "mariadbd shut down cleanly");
      const restateLog = fs.readFileSync(path.join(dataDir, "restate", "restate-server.log"), "utf8");
      // The dev process's own line at the end of the log (restate-server's last lines may not
      // reach the file): it exited by itself after the SIGTERM, not on the SIGKILL after the grace.
      assert.match(restateLog.trimEnd().split("\n").at(-1)!, /ended \(exited: code 0\)$/, `restate-server exited 0 on SIGTERM:\n${restateLog.slice(-2000)}`);
    } finally {
      if (dev.exitCode === null && dev.signalCode === null) dev.kill("SIGKILL");
      killDevChildren();
    }
  });
});
