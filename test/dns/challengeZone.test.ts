// The DNS side of DNS-01 through the `_acme-challenge` CNAME delegation, with real processes:
// MariaDB (migrated), switchyard's challenge-zone server (in this process), pebble-challtestsrv
// as the customer's DNS and unbound as the CA's resolver — the path Pebble's VA takes:
//
//   resolver ─TXT _acme-challenge.shop.example.com─► unbound ─► challtestsrv: CNAME <target>
//                                                      └──────► challenge zone: TXT <target> (MySQL)
//
// Run: node --import tsx --test test/dns/challengeZone.test.ts
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";
import fs from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import * as dnsPacket from "dns-packet";
import type { Kysely } from "kysely";
import mysql from "mysql2/promise";
import { createDb } from "../../src/db/connect.js";
import { newId } from "../../src/db/ids.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { Database } from "../../src/db/schema.js";
import { startChallengeZoneServer, type ChallengeZoneServer } from "../../src/dns/challengeZoneServer.js";
import { acmeDelegationTarget, challengeZoneOf } from "../../src/customDomains/records.js";
import { createLogger } from "../../src/log.js";
import { LOOPBACK, pidAlive, repoRoot, runningProcesses, startMariaDb, startPebble, startUnbound, type MariaDb, type Pebble, type Unbound } from "../harness/index.js";
import { until } from "../support/until.js";

const APEX = "switchyard.test-apex.dev";
const ZONE = challengeZoneOf(APEX);
const LOOKUP_TIMEOUT_MS = 400;
const AUTHORITATIVE = 1 << 10;

const rcodeOf = (packet: dnsPacket.Packet) => (packet.flags ?? 0) & 0xf;
/** The TXT strings of an answer record, joined ("" for another type). */
const txtOf = (a: dnsPacket.Answer) => (a.type === "TXT" ? [a.data].flat().map(String).join("") : "");
const ttlOf = (a: dnsPacket.Answer) => ("ttl" in a ? a.ttl : undefined);
const errorCode = (promise: Promise<unknown>) => promise.then(() => "answered", (error: NodeJS.ErrnoException) => error.code);

/** One query over UDP, the decoded answer (bounded). */
function udpQuery(port: number, message: Buffer, timeoutMs = 2000): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    const timer = setTimeout(() => (socket.close(), reject(new Error(`no UDP answer within ${timeoutMs} ms`))), timeoutMs);
    socket.once("message", (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(reply));
    });
    socket.send(message, port, LOOPBACK);
  });
}

/** A DNS-over-TCP client: length-prefixed messages on one connection, answers matched by id. */
async function tcpClient(port: number) {
  const socket = net.connect({ host: LOOPBACK, port });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let pending = Buffer.alloc(0);
  const waiting = new Map<number, (packet: dnsPacket.Packet) => void>();
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      const packet = dnsPacket.decode(pending.subarray(2, 2 + pending.readUInt16BE(0)));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
      waiting.get(packet.id!)?.(packet);
    }
  });
  return {
    /** Writes raw bytes (no length prefix added). */
    writeRaw: (bytes: Buffer) => socket.write(bytes),
    query(packet: dnsPacket.Packet, timeoutMs = 2000): Promise<dnsPacket.Packet> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no TCP answer within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(packet.id!, (answer) => (clearTimeout(timer), resolve(answer)));
        socket.write(dnsPacket.streamEncode(packet));
      });
    },
    close: () => socket.destroy(),
  };
}

const question = (id: number, name: string, type: dnsPacket.RecordType = "TXT"): dnsPacket.Packet => ({
  id,
  type: "query",
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ name, type, class: "IN" }],
});

describe("the ACME challenge zone over DNS", () => {
  let mariadb: MariaDb;
  let db: Kysely<Database>;
  let server: ChallengeZoneServer;
  let pebble: Pebble;
  let unbound: Unbound;
  let direct: Resolver;
  let viaUnbound: Resolver;

  const target = acmeDelegationTarget("acme", "shop.example.com", APEX)!;
  const addChallenge = async (dnsName: string, txtValue: string, status = "pending", type: "dns-01" | "http-01" = "dns-01") => {
    const id = newId("chl");
    await db
      .insertInto("acme_challenges")
      .values({ id, custom_domain_id: null, hostname: "shop.example.com", type, token: `token-${id}`, key_authorization: `${txtValue}.ka`, dns_name: dnsName, txt_value: txtValue, status })
      .execute();
    return id;
  };

  before(async () => {
    // MariaDB and Pebble (with challtestsrv) in parallel; the zone server and unbound once the DB is there.
    const [startedDb, startedPebble] = await Promise.all([startMariaDb(), startPebble()]);
    mariadb = startedDb;
    pebble = startedPebble;
    db = createDb(mariadb.url, { poolSize: 4 });
    await migrateToLatest(db);
    server = await startChallengeZoneServer({ db, zone: ZONE, host: LOOPBACK, port: 0, logger: createLogger("silent"), lookupTimeoutMs: LOOKUP_TIMEOUT_MS });
    unbound = await startUnbound({ forwardZones: { "example.com": pebble.challtestsrv.dnsServer, [ZONE]: `${LOOPBACK}:${server.port}` } });
    direct = new Resolver({ timeout: 2000, tries: 1 });
    direct.setServers([`${LOOPBACK}:${server.port}`]);
    viaUnbound = new Resolver({ timeout: 3000, tries: 1 });
    viaUnbound.setServers([unbound.address]);
  });
  after(async () => {
    await server?.close();
    await db?.destroy();
    await Promise.allSettled([unbound?.stop(), pebble?.stop(), mariadb?.stop()]);
  });

  it("answers a pending dns-01 value directly, authoritatively, whatever the case of the name", async () => {
    assert.match(target, new RegExp(`^_acme-challenge\\.shop\\.example\\.com\\.[a-z0-9]+\\.${ZONE.replace(/\./g, "\\.")}$`));
    await addChallenge(target, "digest-one");
    assert.deepEqual(await direct.resolveTxt(target), [["digest-one"]]);
    // DNS 0x20: resolvers may mix the case of the name they ask.
    const mixed = target.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
    const answer = await udpQuery(server.port, dnsPacket.encode(question(41, mixed)));
    assert.equal(rcodeOf(answer), 0);
    assert.ok((answer.flags! & AUTHORITATIVE) !== 0, "AA set");
    assert.deepEqual(answer.answers?.map((a) => [a.type, a.name]), [["TXT", mixed]], "the question's case echoed");
    assert.ok(answer.answers!.every((a) => (ttlOf(a) ?? Infinity) <= 5), "a short TTL");
  });

  it("answers the same over TCP, with every pending value of the name (a wildcard shares its base's delegation)", async () => {
    const shared = acmeDelegationTarget("acme", "two.example.com", APEX)!;
    await addChallenge(shared, "for-the-base");
    await addChallenge(shared, "for-the-wildcard");
    await addChallenge(shared, "an-http-01-row", "pending", "http-01");
    const tcp = await tcpClient(server.port);
    try {
      const answer = await tcp.query(question(42, shared));
      assert.equal(rcodeOf(answer), 0);
      assert.deepEqual(answer.answers?.map(txtOf).sort(), ["for-the-base", "for-the-wildcard"]);
    } finally {
      tcp.close();
    }
    assert.deepEqual((await direct.resolveTxt(shared)).flat().sort(), ["for-the-base", "for-the-wildcard"]);
  });

  it("answers SOA and NS at the apex, and NODATA with the SOA for a name without values", async () => {
    const soa = await direct.resolveSoa(ZONE);
    assert.equal(soa.nsname, `ns.${ZONE}`);
    assert.deepEqual(await direct.resolveNs(ZONE), [`ns.${ZONE}`]);
    const empty = await udpQuery(server.port, dnsPacket.encode(question(43, `_acme-challenge.nothing.example.com.x1.${ZONE}`)));
    assert.deepEqual([rcodeOf(empty), empty.answers, empty.authorities?.map((a) => [a.type, a.name])], [0, [], [["SOA", ZONE]]]);
    assert.ok((empty.flags! & AUTHORITATIVE) !== 0, "AA set on NODATA");
    assert.equal(await errorCode(direct.resolveTxt(`nothing.${ZONE}`)), "ENODATA");
  });

  it("refuses names outside the zone, without looking like a resolver", async () => {
    assert.equal(await errorCode(direct.resolveTxt("_acme-challenge.shop.example.com")), "EREFUSED");
    assert.equal(await errorCode(direct.resolveTxt(`evil${ZONE}`)), "EREFUSED", "a suffix that is not a label boundary");
    const refused = await udpQuery(server.port, dnsPacket.encode(question(44, "example.org", "A")));
    assert.deepEqual([rcodeOf(refused), (refused.flags! & AUTHORITATIVE) !== 0, refused.answers], [5, false, []]);
  });

  it("ignores malformed packets and keeps answering, over UDP and on the same TCP connection", async () => {
    const garbage = [Buffer.from([0x13]), Buffer.from("not a dns message at all"), Buffer.alloc(12, 0xff)];
    const sender = dgram.createSocket("udp4");
    for (const bytes of garbage) await new Promise<void>((resolve) => sender.send(bytes, server.port, LOOPBACK, () => resolve()));
    // A response is not a query: no answer to it either (no loop between two servers).
    const response = dnsPacket.encode({ ...question(45, target), type: "response" });
    await new Promise<void>((resolve) => sender.send(response, server.port, LOOPBACK, () => resolve()));
    sender.close();
    assert.deepEqual(await direct.resolveTxt(target), [["digest-one"]]);

    const tcp = await tcpClient(server.port);
    try {
      for (const bytes of garbage) {
        const framed = Buffer.alloc(2 + bytes.length);
        framed.writeUInt16BE(bytes.length);
        bytes.copy(framed, 2);
        tcp.writeRaw(framed);
      }
      const answer = await tcp.query(question(46, target));
      assert.deepEqual(answer.answers?.map(txtOf), ["digest-one"]);
    } finally {
      tcp.close();
    }
  });

  it("resolves _acme-challenge.<host> through unbound: the customer's CNAME, then our TXT — as the CA's VA does", async () => {
    await pebble.challtestsrv.addCname("_acme-challenge.shop.example.com", target);
    assert.deepEqual(await viaUnbound.resolveTxt("_acme-challenge.shop.example.com"), [["digest-one"]]);
    // Also when the resolver asks in mixed case.
    assert.deepEqual(await viaUnbound.resolveTxt("_ACME-Challenge.Shop.Example.com"), [["digest-one"]]);
  });

  it("stops answering a challenge once it is no longer pending, directly and through unbound", async () => {
    const other = acmeDelegationTarget("acme", "done.example.com", APEX)!;
    const id = await addChallenge(other, "settled-soon");
    await pebble.challtestsrv.addCname("_acme-challenge.done.example.com", other);
    assert.deepEqual(await viaUnbound.resolveTxt("_acme-challenge.done.example.com"), [["settled-soon"]]);
    await db.updateTable("acme_challenges").set({ status: "valid" }).where("id", "=", id).execute();
    assert.equal(await errorCode(direct.resolveTxt(other)), "ENODATA");
    // unbound keeps nothing (cache-max-ttl 0, forward-no-cache), so the next question is asked
    // anew: the answer holds the customer's CNAME and no TXT (node's resolveTxt gives []).
    const settled = await viaUnbound.resolveTxt("_acme-challenge.done.example.com").catch((error: NodeJS.ErrnoException) => error.code);
    assert.deepEqual(settled, [], "no TXT value through the resolver");
  });

  it("answers SERVFAIL within its bound when MySQL does not answer, and recovers", async () => {
    // LOCK TABLES … WRITE holds a metadata lock every other session's SELECT waits for.
    const locker = await mysql.createConnection({ uri: mariadb.url });
    try {
      await locker.query("LOCK TABLES acme_challenges WRITE");
      const t0 = performance.now();
      const answer = await udpQuery(server.port, dnsPacket.encode(question(47, target)), 5000);
      const elapsed = performance.now() - t0;
      assert.equal(rcodeOf(answer), 2, "SERVFAIL");
      assert.ok(elapsed >= LOOKUP_TIMEOUT_MS - 50 && elapsed < LOOKUP_TIMEOUT_MS + 1500, `answered after ${elapsed.toFixed(0)} ms (bound ${LOOKUP_TIMEOUT_MS} ms)`);
      await locker.query("UNLOCK TABLES");
    } finally {
      await locker.end();
    }
    assert.deepEqual(await direct.resolveTxt(target), [["digest-one"]]);
  });

  it("close() frees the port at once, even with a TCP client still connected", async () => {
    const second = await startChallengeZoneServer({ db, zone: ZONE, host: LOOPBACK, port: 0, logger: createLogger("silent") });
    const tcp = await tcpClient(second.port);
    const t0 = performance.now();
    await second.close();
    await second.close();
    assert.ok(performance.now() - t0 < 1000, "close does not wait for idle clients");
    tcp.close();
    const again = await startChallengeZoneServer({ db, zone: ZONE, host: LOOPBACK, port: second.port, logger: createLogger("silent") });
    await again.close();
  });
});

describe("the unbound harness", () => {
  it("starts quickly without its forwarded servers, and stop() leaves no process or temp dir", async () => {
    const unbound = await startUnbound({ forwardZones: { "example.com": `${LOOPBACK}:9`, [ZONE]: `${LOOPBACK}:9` } });
    const { pid, baseDir } = unbound;
    try {
      console.log(`start time unbound: ${unbound.startMs.toFixed(0)} ms`);
      assert.ok(unbound.startMs < 2000, `unbound took ${unbound.startMs.toFixed(0)} ms to answer`);
      assert.equal(fs.readFileSync(`${baseDir}/unbound.pid`, "utf8").trim(), String(pid), "pidfile in the temp dir");
    } finally {
      await unbound.stop();
    }
    assert.equal(pidAlive(pid), false, `unbound pid ${pid} still exists after stop()`);
    assert.equal(fs.existsSync(baseDir), false, "temp dir removed");
    assert.ok(!runningProcesses().some((p) => p.pids.includes(pid)));
  });

  it("is killed by pid when the test process fails without calling stop()", async () => {
    const harness = pathToFileURL(`${repoRoot}/test/harness/index.ts`).href;
    const script = `
      const { startUnbound } = await import(${JSON.stringify(harness)});
      const unbound = await startUnbound({ forwardZones: { "example.com": "127.0.0.1:9" } });
      process.stdout.write(JSON.stringify({ pid: unbound.pid, baseDir: unbound.baseDir }) + "\\n");
      throw new Error("a failing test that never stops unbound");
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
    assert.notEqual(code, 0, "the child failed");
    assert.match(stderr, /a failing test that never stops unbound/);
    const { pid, baseDir } = JSON.parse(stdout.trim()) as { pid: number; baseDir: string };
    // The exit hook SIGKILLs it synchronously; the kernel may take a moment to reap it.
    await until(`unbound pid ${pid} gone`, () => !pidAlive(pid), 5000);
    assert.equal(fs.existsSync(baseDir), false, "temp dir removed at exit");
  });
});
