// The API listener against clients that misbehave on purpose: a connection that never sends a
// byte, headers that never end, an HTTP/2 session that opens no stream — each is closed after the
// header timeout — and an HTTP-01 challenge request without a Host header, which gets no answer.
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { newId } from "../../src/db/ids.js";
import { startApp, type App } from "../support/app.js";
import { createProject } from "../support/fixtures.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";

const HEADER_TIMEOUT_MS = 1000;

/** Opens a TCP connection, writes `bytes`, and resolves with how long the server kept it open. */
function heldOpenFor(port: number, bytes: string, limitMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => {
      if (bytes) socket.write(bytes);
    });
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for more than ${limitMs} ms`));
    }, limitMs);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(limit);
      resolve(Date.now() - started);
    });
  });
}

/** A raw HTTP/1.0 exchange: the whole answer as text. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error("no answer"));
    });
  });
}

describe("API listener hardening", () => {
  let app: App;
  let port: number;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_API_HEADER_TIMEOUT: `${HEADER_TIMEOUT_MS}ms` } });
    port = app.switchyard.port;
  });
  after(async () => {
    await app?.stop();
  });

  it("closes a connection that sends nothing", async () => {
    const held = await heldOpenFor(port, "", HEADER_TIMEOUT_MS * 6);
    assert.ok(held >= HEADER_TIMEOUT_MS * 0.8, `closed after ${held} ms`);
  });

  it("closes a connection whose request headers never end", async () => {
    await heldOpenFor(port, "GET /ctrl.v1.CtrlService/Liveness HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", HEADER_TIMEOUT_MS * 6);
  });

  it("closes an HTTP/2 session that opens no stream", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const closed = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const limit = setTimeout(() => reject(new Error("the idle HTTP/2 session stayed open")), HEADER_TIMEOUT_MS * 8);
      session.on("error", () => undefined);
      session.on("close", () => {
        clearTimeout(limit);
        resolve(Date.now() - started);
      });
    });
    assert.ok(closed >= HEADER_TIMEOUT_MS * 0.8);
  });

  it("still serves a normal request after the timeouts", async () => {
    const fixture = await createProject(app, "acme");
    const list = await app.client(NetworkService).listDomains({ workspaceId: fixture.workspaceId });
    assert.deepEqual(list.domains, []);
  });

  it("answers an HTTP-01 challenge only for a request that names its Host", async () => {
    const fixture = await createProject(app, "acme");
    const domain = (await app.client(NetworkService).addDomain({ workspaceId: fixture.workspaceId, projectId: fixture.projectId, hostname: "challenged.example.com" })).domain!;
    const token = "hostlessToken0123456789abcdefghij";
    await app.db.insertInto("acme_challenges").values({ id: newId("chl"), custom_domain_id: domain.id, hostname: domain.hostname, type: "http-01", token, key_authorization: `${token}.thumbprint`, status: "pending" }).execute();
    const withHost = await rawExchange(port, `GET /.well-known/acme-challenge/${token} HTTP/1.0\r\nHost: challenged.example.com\r\n\r\n`);
    assert.match(withHost, /^HTTP\/1\.[01] 200/);
    assert.ok(withHost.endsWith(`${token}.thumbprint`));
    const hostless = await rawExchange(port, `GET /.well-known/acme-challenge/${token} HTTP/1.0\r\n\r\n`);
    assert.match(hostless, /^HTTP\/1\.[01] 400/);
    assert.ok(!hostless.includes("thumbprint"), "no key authorization without a Host");
  });
});
