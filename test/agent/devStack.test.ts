// `npm run dev` runs an agent: the banner's sample-app commands, pasted into a shell as printed,
// deploy examples/hello and reach it with curl; Ctrl-C stops the agent and its instances first.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { freePort, makeTempDir, ManagedProcess, pidAlive, removeAllContainers, removeTempDir, repoRoot, resetStorage, runningContainers } from "../harness/index.js";
import { until } from "../support/until.js";

interface DevState {
  apiUrl: string;
  pids: { dev: number; mariadbd?: number; restateServer?: number; agent?: number; caddy?: number; caddyFront?: number; gateway?: number };
  agent?: { stateDir: string };
}

const dirs: string[] = [];
const leftovers = new Set<number>();
process.on("exit", () => {
  for (const pid of leftovers) if (pidAlive(pid)) process.kill(pid, "SIGKILL");
});
after(async () => {
  for (const dir of dirs) await removeTempDir(dir);
});

/** Runs `script` in bash from the repository root (bounded), as a developer pastes it. */
function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-euo", "pipefail", "-c", script], { cwd: repoRoot, env, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("npm run dev with its agent", () => {
  it("the banner's copyable deploy of examples/hello ends ready, curl reaches the app, Ctrl-C stops the agent and its instances", () => devStackDeploys("process"));
  it("with podman: a private registry, the banner's deploy builds examples/hello from the checkout's git HEAD and runs it as a container; Ctrl-C stops the container too", () => devStackDeploys("container"));
});

async function devStackDeploys(driver: "process" | "container"): Promise<void> {
  {
    const base = await makeTempDir("dev-agent");
    dirs.push(base);
    const dataDir = path.join(base, "data");
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!/^(DATABASE_URL|RESTATE_|SWITCHYARD_)/.test(key)) env[key] = value;
    const dev = new ManagedProcess({
      name: "npm-run-dev",
      command: process.execPath,
      args: ["--import", "tsx", path.join("src", "dev", "dev.ts")],
      env: { ...env, SWITCHYARD_DEV_DATA_DIR: dataDir, SWITCHYARD_PORT: String(await freePort()), SWITCHYARD_ENDPOINT_PORT: String(await freePort()), SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_DEV_DRIVER: driver },
      cwd: repoRoot,
      logFile: path.join(base, "dev.log"),
      stopTimeoutMs: 60_000,
    });
    dev.start();
    const stateFile = path.join(dataDir, "dev.json");
    await dev.waitUntil("dev.json", async () => fs.existsSync(stateFile), 120_000, 100);
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as DevState;
    for (const pid of [state.pids.mariadbd, state.pids.restateServer, state.pids.agent, state.pids.caddy, state.pids.caddyFront, state.pids.gateway]) if (pid) leftovers.add(pid);
    try {
      assert.ok(state.pids.agent && pidAlive(state.pids.agent), "the agent runs");
      await dev.waitUntil("the banner", async () => /curl http:\/\/\$\(/.test(fs.readFileSync(dev.logFile, "utf8")), 10_000, 50);
      const banner = fs.readFileSync(dev.logFile, "utf8").split("\n");
      const start = banner.findIndex((line) => line.startsWith("Deploy the sample app"));
      const commands = banner.slice(start + 1, banner.indexOf("", start)).map((line) => line.trim());
      // The deploy, the curl of the instance, and (Caddy is installed here) the curl through the gateway.
      assert.equal(commands.length, 6, commands.join("\n"));
      assert.match(commands.at(-1)!, /^curl .*--resolve hello-demo\.[^:]+:\d+:127\.0\.0\.1 http:\/\/hello-demo\./);
      const run = await bash(commands.join("\n"), env);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      // The last line is the app's answer through the gateway, by its live hostname.
      const answer = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { app: string; version: string; instance: string };
      assert.equal(answer.app, "hello");
      assert.equal(answer.version, "1.0.0");
      const appPid = (answer as unknown as { pid: number }).pid;
      const podmanStorage = path.join(dataDir, "podman");
      if (driver === "container") {
        assert.equal(appPid, 1, "PID 1 of its container");
        assert.equal(runningContainers(podmanStorage).length, 1);
        assert.match(fs.readFileSync(dev.logFile, "utf8"), /Registry\s+127\.0\.0\.1:\d+/);
      } else {
        assert.ok(pidAlive(appPid));
        leftovers.add(appPid);
      }

      process.kill(dev.pid, "SIGINT");
      await until("npm run dev to exit", () => dev.exitInfo !== undefined, 60_000, 50);
      assert.equal(dev.exitInfo?.code, 0, dev.logs(40));
      assert.match(dev.logs(40), /agent stopped[\s\S]*switchyard stopped/, "the agent stops first");
      assert.ok(state.pids.caddy && state.pids.caddyFront && state.pids.gateway, "caddy is installed: the dev stack runs the routing and front Caddys and a gateway");
      const pids = [state.pids.agent!, state.pids.mariadbd!, state.pids.restateServer!, state.pids.caddy, state.pids.caddyFront, state.pids.gateway, ...(driver === "process" ? [appPid] : [])];
      assert.deepEqual(pids.filter(pidAlive), [], "nothing outlives npm run dev");
      if (driver === "container") assert.deepEqual(runningContainers(podmanStorage), [], "its container stopped too");
    } finally {
      await dev.stop();
      if (driver === "container") {
        removeAllContainers(path.join(dataDir, "podman"));
        resetStorage(path.join(dataDir, "podman"));
      }
    }
  }
}
