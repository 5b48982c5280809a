// The harness itself: every real service starts on loopback, answers, survives SIGKILL +
// restart where it holds state (MariaDB, Restate), and leaves no process or temp dir behind —
// except, for a post-mortem, those of a process that died unexpectedly in a failing test file.

import "../src/polyfill.js";

import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { after, describe, test } from "node:test";
import * as restate from "@restatedev/restate-sdk";
import mysql from "mysql2/promise";
import {
  freePort,
  httpRequest,
  LOOPBACK,
  makeTempDir,
  ManagedProcess,
  pidAlive,
  removeTempDir,
  repoRoot,
  runningProcesses,
  sleep,
  startCaddy,
  startMariaDb,
  startPebble,
  startRestate,
  startStack,
  type Caddy,
  type ManagedProcessOptions,
  type MariaDb,
  type Pebble,
  type Restate,
} from "./harness/index.js";

const START_LIMIT_MS = 10_000; // generous so a loaded CI box does not flake; the target is < 2 s

function reportStart(name: string, ms: number): void {
  console.log(`start time ${name}: ${ms.toFixed(0)} ms`);
  assert.ok(ms < START_LIMIT_MS, `${name} took ${ms.toFixed(0)} ms to start (limit ${START_LIMIT_MS} ms)`);
}

async function assertGone(name: string, pids: readonly number[], baseDir?: string): Promise<void> {
  // The harness waits for the exit before stop() resolves, so no polling should be needed.
  for (const pid of pids) assert.equal(pidAlive(pid), false, `${name} pid ${pid} still exists after stop()`);
  if (baseDir) assert.equal(fs.existsSync(baseDir), false, `${name} temp dir ${baseDir} still exists after stop()`);
}

describe("harness", () => {
  const started: Array<{ stop(): Promise<void> }> = [];
  after(async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
  });

  test("freePort returns a bindable loopback port", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
  });

  test("mariadb: starts, answers SELECT 1, keeps a row across SIGKILL + restart, stops clean", async () => {
    const t0 = performance.now();
    const db: MariaDb = await startMariaDb();
    started.push(db);
    reportStart("mariadb (incl. datadir copy)", performance.now() - t0);
    assert.match(db.url, /^mysql:\/\/root@127\.0\.0\.1:\d+\/switchyard$/);
    assert.notEqual(db.port, 3306);

    const conn = await mysql.createConnection({ uri: db.url });
    try {
      const [rows] = await conn.query("SELECT 1 AS one, DATABASE() AS db");
      assert.deepEqual(rows, [{ one: 1, db: "switchyard" }]);
      await conn.query("CREATE TABLE harness_probe (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL)");
      await conn.query("INSERT INTO harness_probe VALUES (1, 'written before SIGKILL')");
    } finally {
      await conn.end();
    }

    const firstPid = db.pid;
    await db.kill();
    assert.equal(pidAlive(firstPid), false, "mariadbd still alive after kill()");
    const port = db.port;
    await db.restart();
    reportStart("mariadb restart after SIGKILL (crash recovery)", db.startMs);
    assert.notEqual(db.pid, firstPid);
    assert.equal(db.port, port);

    const again = await mysql.createConnection({ uri: db.url });
    try {
      const [rows] = await again.query("SELECT note FROM harness_probe WHERE id = 1");
      assert.deepEqual(rows, [{ note: "written before SIGKILL" }]);
    } finally {
      await again.end();
    }

    const pids = [...db.pids];
    await db.stop();
    await assertGone("mariadbd", pids, db.baseDir);
  });

  test("restate: healthy, keeps virtual-object state across SIGKILL + restart, stops clean", async () => {
    const t0 = performance.now();
    const rs: Restate = await startRestate();
    started.push(rs);
    reportStart("restate-server", performance.now() - t0);
    assert.equal((await httpRequest(`${rs.adminUrl}/health`)).status, 200);

    // A tiny Restate endpoint served from this test process.
    const counter = restate.object({
      name: "HarnessCounter",
      handlers: {
        add: async (ctx: restate.ObjectContext, amount: number) => {
          const value = ((await ctx.get<number>("value")) ?? 0) + amount;
          ctx.set("value", value);
          return value;
        },
        get: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext) => (await ctx.get<number>("value")) ?? 0),
      },
    });
    const endpoint = http2.createServer(restate.createEndpointHandler({ services: [counter] }));
    const sessions = new Set<http2.ServerHttp2Session>();
    endpoint.on("session", (s) => {
      sessions.add(s);
      s.on("close", () => sessions.delete(s));
    });
    const endpointPort = await freePort();
    await new Promise<void>((resolve) => endpoint.listen(endpointPort, LOOPBACK, resolve));
    try {
      const reg = await httpRequest(`${rs.adminUrl}/deployments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ uri: `http://${LOOPBACK}:${endpointPort}`, force: true }),
        timeoutMs: 10_000,
      });
      assert.ok(reg.status === 200 || reg.status === 201, `register deployment: ${reg.status} ${reg.body}`);

      const call = async (path: string, body?: unknown): Promise<unknown> => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const res = await httpRequest(`${rs.ingressUrl}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
            timeoutMs: 10_000,
          }).catch((error: Error) => ({ status: 0, body: error.message, headers: {} }));
          if (res.status === 200) return JSON.parse(res.body);
          // Right after a (re)start the partitions may still be electing a leader.
          if (Date.now() > deadline || (res.status >= 400 && res.status < 500 && res.status !== 404)) {
            throw new Error(`restate ingress ${path}: ${res.status} ${res.body}\n${rs.logs(20)}`);
          }
          await sleep(100);
        }
      };

      assert.equal(await call("/HarnessCounter/k1/add", 5), 5);
      const firstPid = rs.pid;
      await rs.kill();
      assert.equal(pidAlive(firstPid), false, "restate-server still alive after kill()");
      await rs.restart();
      reportStart("restate-server restart after SIGKILL", rs.startMs);
      assert.equal(await call("/HarnessCounter/k1/get"), 5, "state written before SIGKILL is readable after restart");
      assert.equal(await call("/HarnessCounter/k1/add", 1), 6);
    } finally {
      const pids = [...rs.pids];
      await rs.stop();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => endpoint.close(() => resolve()));
      await assertGone("restate-server", pids, rs.baseDir);
    }
  });

  test("pebble + challtestsrv: ACME directory over trusted HTTPS, DNS answers set through challtestsrv", async () => {
    const t0 = performance.now();
    const pebble: Pebble = await startPebble();
    started.push(pebble);
    reportStart("pebble + challtestsrv (incl. openssl certs)", performance.now() - t0);

    const dir = await httpRequest(pebble.directoryUrl, { ca: pebble.caCertPem });
    assert.equal(dir.status, 200);
    const directory = JSON.parse(dir.body) as Record<string, unknown>;
    assert.match(String(directory.newAccount), /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.match(String(directory.newOrder), /^https:\/\//);
    // Without the CA the certificate is not trusted.
    await assert.rejects(httpRequest(pebble.directoryUrl));
    assert.match(await pebble.issuerRootPem(), /-----BEGIN CERTIFICATE-----/);

    const dns = new Resolver({ timeout: 2000, tries: 1 });
    dns.setServers([pebble.challtestsrv.dnsServer]);
    await pebble.challtestsrv.addTxt("_acme-challenge.shop.example.com", "token-1");
    assert.deepEqual(await dns.resolveTxt("_acme-challenge.shop.example.com"), [["token-1"]]);
    await pebble.challtestsrv.setTxt("_acme-challenge.shop.example.com", "token-2");
    assert.deepEqual(await dns.resolveTxt("_acme-challenge.shop.example.com"), [["token-2"]]);
    await pebble.challtestsrv.clearTxt("_acme-challenge.shop.example.com");
    await assert.rejects(dns.resolveTxt("_acme-challenge.shop.example.com"), { code: "ENODATA" });
    await pebble.challtestsrv.addA("shop.example.com", "192.0.2.10");
    assert.deepEqual(await dns.resolve4("shop.example.com"), ["192.0.2.10"]);
    await pebble.challtestsrv.addCname("www.shop.example.com", "shop.example.com");
    assert.deepEqual(await dns.resolveCname("www.shop.example.com"), ["shop.example.com"]);

    const pids = [...pebble.pids];
    await pebble.stop();
    await assertGone("pebble/challtestsrv", pids, pebble.baseDir);
  });

  test("caddy: loads a route through the admin API and serves it by Host", async () => {
    const t0 = performance.now();
    const caddy: Caddy = await startCaddy();
    started.push(caddy);
    reportStart("caddy", performance.now() - t0);

    assert.equal((await caddy.get("anything.test")).status, 404, "catch-all 404 before any route");
    await caddy.load(
      caddy.serverConfig([
        {
          match: [{ host: ["app.example.com"] }],
          handle: [{ handler: "static_response", status_code: 200, body: "hello from app" }],
        },
      ]),
    );
    const hit = await caddy.get("app.example.com");
    assert.equal(hit.status, 200);
    assert.equal(hit.body, "hello from app");
    assert.equal((await caddy.get("other.example.com")).status, 404);
    const config = await caddy.config();
    assert.deepEqual((config.admin as { listen: string }).listen, `${LOOPBACK}:${caddy.adminPort}`, "admin block kept by load()");

    const pids = [...caddy.pids];
    await caddy.stop();
    await assertGone("caddy", pids, caddy.baseDir);
  });

  test("startStack: starts MariaDB, Restate, Pebble and Caddy in parallel and stops them all", async () => {
    const t0 = performance.now();
    const stack = await startStack({ pebble: true, caddy: true });
    started.push(stack);
    reportStart("whole stack in parallel", performance.now() - t0);
    const env = await stack.switchyardEnv();
    assert.equal(env.DATABASE_URL, stack.mariadb.url);
    assert.equal(env.RESTATE_ADMIN_URL, stack.restate.adminUrl);
    assert.equal((await httpRequest(`${stack.restate.adminUrl}/health`)).status, 200);
    assert.equal((await httpRequest(stack.pebble!.directoryUrl, { ca: stack.pebble!.caCertPem })).status, 200);
    assert.equal((await stack.caddy!.get("x.example.com")).status, 404);
    const conn = await mysql.createConnection({ uri: stack.mariadb.url });
    await conn.query("SELECT 1");
    await conn.end();

    const pids = [...stack.mariadb.pids, ...stack.restate.pids, ...stack.pebble!.pids, ...stack.caddy!.pids];
    await stack.stop();
    await assertGone("stack", pids);
    assert.deepEqual(runningProcesses(), [], "no harness process left running");
  });
});

describe("harness post-mortems", () => {
  /** A node child in its own temp dir that runs `code`; stopped and removed after the test. */
  async function child(code: string, explainSignal?: ManagedProcessOptions["explainSignal"]) {
    const dir = await makeTempDir("signals");
    const proc = new ManagedProcess({ name: "child", command: process.execPath, args: ["-e", code], logFile: path.join(dir, "child.log"), explainSignal });
    proc.start();
    return {
      proc,
      /** The error waitUntil gives once the child died. */
      async failure(): Promise<string> {
        const error = await proc.waitUntil("the impossible", async () => false, 10_000).then(() => undefined, (e: Error) => e);
        assert.ok(error, "waitUntil fails once the child exited");
        return error.message;
      },
      async cleanup() {
        await proc.stop();
        await removeTempDir(dir);
      },
    };
  }
  const idle = "setTimeout(() => {}, 60_000)";

  test("a death names who sent the signal, the test file and the log", async () => {
    const byTest = await child(idle);
    byTest.proc.sendSignal("SIGKILL", "the test");
    const message = await byTest.failure();
    assert.match(message, /^child \(pid \d+\) in test\/harness\.test\.ts \(exited: signal SIGKILL, sent by the test\): exited while waiting for the impossible/);
    assert.ok(message.includes(byTest.proc.logFile), "the log's path");
    await byTest.cleanup();

    const byHarness = await child(idle);
    await byHarness.proc.kill();
    assert.match(await byHarness.failure(), /signal SIGKILL, sent by the harness \(kill\(\)\)/);
    await byHarness.cleanup();

    const byStranger = await child(idle);
    process.kill(byStranger.proc.pid, "SIGTERM");
    assert.match(await byStranger.failure(), /signal SIGTERM, sent by an unknown sender — not the harness, a fault marker or the test;/);
    await byStranger.cleanup();

    const byItself = await child("process.kill(process.pid, 'SIGKILL')", () => "itself, as its owner asked");
    assert.match(await byItself.failure(), /signal SIGKILL, sent by itself, as its owner asked/);
    await byItself.cleanup();

    const crashed = await child("process.exit(3)");
    assert.match(await crashed.failure(), /\(exited: code 3\)/);
    await crashed.cleanup();
  });

  test("keeps the temp dir of a process that died unexpectedly only when its test file fails", () => {
    const run = (outcome: "pass" | "fail") => {
      const env: NodeJS.ProcessEnv = { ...process.env, POST_MORTEM_OUTCOME: outcome };
      // A test file of its own, run by a runner of its own (not as a child of this one).
      delete env.NODE_TEST_CONTEXT;
      const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", path.join("test", "support", "postMortemFixture.ts")], {
        cwd: repoRoot,
        env,
        encoding: "utf8",
        timeout: 60_000,
      });
      const output = `${result.stdout}${result.stderr}`;
      const dir = /temp dir: (\S+)/.exec(output)?.[1];
      assert.ok(dir, output);
      return { status: result.status, output, dir };
    };

    const failing = run("fail");
    try {
      assert.equal(failing.status, 1, failing.output);
      assert.ok(fs.existsSync(path.join(failing.dir, "sleeper.log")), `the log is kept:\n${failing.output}`);
      assert.match(failing.output, /sleeper \(pid \d+\) in test\/support\/postMortemFixture\.ts \(exited: signal SIGKILL, sent by an unknown sender/);
      assert.ok(failing.output.includes(`harness: kept ${failing.dir} for a post-mortem (sleeper`), failing.output);
    } finally {
      fs.rmSync(failing.dir, { recursive: true, force: true });
    }

    const passing = run("pass");
    assert.equal(passing.status, 0, passing.output);
    assert.equal(fs.existsSync(passing.dir), false, "a passing file keeps nothing");
  });
});
