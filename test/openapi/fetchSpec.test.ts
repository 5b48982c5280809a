// The bounded fetch on its own, against real HTTP servers on loopback: each way an app could
// stretch or redirect the scrape ends within its bounds, with a reason.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseAddressRanges, type AddressRanges } from "../../src/domain/addressRanges.js";
import { fetchSpec } from "../../src/openapi/fetchSpec.js";

const loopback = parseAddressRanges("127.0.0.0/8") as AddressRanges;

describe("fetchSpec", () => {
  let server: http.Server;
  let address: string;
  const hangs = new Set<http.ServerResponse>();
  before(async () => {
    server = http.createServer((req, res) => {
      switch (req.url) {
        case "/ok.json":
          return res.writeHead(200, { "content-type": "application/json" }), res.end('{"openapi":"3.0.3"}');
        case "/declared-huge":
          // Claims more than the cap: refused before a byte of the body is read.
          res.writeHead(200, { "content-length": String(64 * 1024 * 1024) });
          return res.write("x");
        case "/latin1":
          return res.writeHead(200), res.end(Buffer.from([0x6f, 0x70, 0xe9, 0xff]));
        case "/slow":
          hangs.add(res);
          return res.writeHead(200), res.write("openapi: ");
        case "/loop":
          return res.writeHead(302, { location: "/loop" }), res.end();
        case "/scheme":
          return res.writeHead(301, { location: `https://${req.headers.host}/ok.json` }), res.end();
        default:
          return res.writeHead(404), res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hangs) res.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = (path: string, opts: Partial<{ timeoutMs: number; maxBytes: number; ranges: AddressRanges }> = {}) =>
    fetchSpec(address, path, { ranges: loopback, timeoutMs: 2000, maxBytes: 1024, ...opts });

  it("an answer within bounds, with its content type", async () => {
    assert.deepEqual(await get("/ok.json"), { outcome: "published", text: '{"openapi":"3.0.3"}', contentType: "application/json" });
  });

  it("404 is none; a declared length over the cap is refused without reading it", async () => {
    assert.equal((await get("/missing")).outcome, "none");
    const huge = await get("/declared-huge");
    assert.equal(huge.outcome, "refused");
    assert.match((huge as { detail: string }).detail, /67108864 bytes, more than the 1024-byte limit/);
  });

  it("bytes that are not UTF-8 are refused", async () => {
    assert.deepEqual(await get("/latin1"), { outcome: "refused", detail: "GET /latin1: the spec is not UTF-8 text" });
  });

  it("an answer that never ends stops at the timeout", async () => {
    const started = Date.now();
    const slow = await get("/slow", { timeoutMs: 300 });
    assert.equal(slow.outcome, "refused");
    assert.match((slow as { detail: string }).detail, /no complete answer within 300 ms/);
    assert.ok(Date.now() - started < 2000);
  });

  it("a redirect loop on the instance ends after three hops; another scheme is another origin", async () => {
    const loop = await get("/loop");
    assert.equal(loop.outcome, "refused");
    assert.match((loop as { detail: string }).detail, /more than 3 redirects/);
    assert.match(((await get("/scheme")) as { detail: string }).detail, /redirected to https:\/\/127\.0\.0\.1:\d+, off the instance; not followed/);
  });

  it("an address outside the instance ranges is never connected to", async () => {
    const outside = await fetchSpec(address, "/ok.json", { ranges: parseAddressRanges("10.0.0.0/8") as AddressRanges, timeoutMs: 2000, maxBytes: 1024 });
    assert.equal(outside.outcome, "refused");
    assert.match((outside as { detail: string }).detail, /outside the instance address ranges/);
  });
});
