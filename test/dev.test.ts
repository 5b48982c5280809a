// `npm run dev` as a developer runs it: a real child process with its own data directory.
// First run initialises MariaDB and restate-server, Ctrl-C (SIGINT) stops every child, a second
// run reuses the data; with DATABASE_URL and RESTATE_* set it starts neither of its own.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { listDeployments } from "../src/restate/admin.js";
import { freePort, makeTempDir, ManagedProcess, pidAlive, removeTempDir, repoRoot, startMariaDb, startRestate } from "./harness/index.js";

interface DevState {
  apiUrl: string;
  endpointUrl: string;
  restateAdminUrl: string;
  tokenFile?: string;
  pids: { dev: number; mariadbd?: number; restateServer?: number };
}

const dirs: string[] = [];
// The harness SIGKILLs the dev process if this file dies early; its children run in their own
// process group and would outlive it, so the pids they reported are killed here too.
const devChildren = new Set<number>();
const killDevChildren = () => {
  for (const pid of devChildren) if (pidAlive(pid)) process.kill(pid, "SIGKILL");
};
process.on("exit", killDevChildren);
after(async () => {
  killDevChildren();
  for (const dir of dirs) await removeTempDir(dir);
});

async function runDev(dataDir: string, label: string, extraEnv: Record<string, string> = {}): Promise<{ proc: ManagedProcess; state: DevState }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(DATABASE_URL|RESTATE_|SWITCHYARD_)/.test(key)) env[key] = value;
  }
  const proc = new ManagedProcess({
    name: "npm-run-dev",
    command: process.execPath,
    args: ["--import", "tsx", path.join("src", "dev", "dev.ts")],
    env: {
      ...env,
      SWITCHYARD_DEV_DATA_DIR: dataDir,
      SWITCHYARD_PORT: String(await freePort()),
      SWITCHYARD_ENDPOINT_PORT: String(await freePort()),
      SWITCHYARD_LOG_LEVEL: "warn",
      ...extraEnv,
    },
    cwd: repoRoot,
    logFile: path.join(path.dirname(dataDir), `${label}.log`),
    stopTimeoutMs: 30_000,
  });
  const stateFile = path.join(dataDir, "dev.json");
  proc.start();
  await proc.waitUntil(`${stateFile} to appear`, async () => fs.existsSync(stateFile), 90_000, 100);
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as DevState;
  for (const pid of [state.pids.mariadbd, state.pids.restateServer]) if (pid) devChildren.add(pid);
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
  process.kill(proc.pid, signal);
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
    const created = await rpc(first.state, token, "DeployService/CreateWorkspace", { slug: "kept", name: "Kept across runs" });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const workspaceId: string = created.json.workspace.id;
    const registered = await listDeployments(first.state.restateAdminUrl);
    assert.ok(registered.some((d) => d.uri?.startsWith(first.state.endpointUrl)), "switchyard is registered with restate");
    assert.match(first.proc.logs(200), /Restate UI\s+http:\/\/127\.0\.0\.1:\d+\/ui\//);
    assert.match(first.proc.logs(200), /curl -sS -H "Authorization: Bearer/);

    const children = [first.state.pids.mariadbd!, first.state.pids.restateServer!];
    assert.ok(children.every(pidAlive));
    assert.equal(await stopWith(first.proc, "SIGINT"), 0);
    assert.deepEqual(children.filter(pidAlive), [], "no child outlives npm run dev");
    children.forEach((pid) => devChildren.delete(pid));
    assert.equal(fs.existsSync(path.join(dataDir, "dev.json")), false);

    const second = await runDev(dataDir, "second");
    try {
      assert.equal(fs.readFileSync(tokenFile, "utf8").trim(), token, "the same token on the second run");
      const found = await rpc(second.state, token, "DeployService/GetWorkspace", { workspaceId });
      assert.equal(found.status, 200, JSON.stringify(found.json));
      assert.equal(found.json.workspace.slug, "kept");
      assert.match(first.proc.logs(400), /initialising a MariaDB datadir/);
      assert.doesNotMatch(second.proc.logs(400), /initialising/, "the second run reuses the datadir");
    } finally {
      assert.equal(await stopWith(second.proc, "SIGTERM"), 0);
    }
    const secondChildren = [second.state.pids.mariadbd!, second.state.pids.restateServer!];
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
});
