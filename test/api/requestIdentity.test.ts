// With SWITCHYARD_RESTATE_IDENTITY_KEYS set, the Restate endpoint serves only a restate-server
// that signs its requests with the matching private key: the real server gets through, an
// unsigned caller on the endpoint port is refused.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import http2 from "node:http2";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "node:crypto";
import { makeTempDir, removeTempDir, startStack, startSwitchyard, type Stack, type Switchyard } from "../harness/index.js";
import { ensureDatabase } from "../../src/db/connect.js";

/** Status of an unsigned h2c POST to the endpoint's discovery path. */
function unsignedDiscovery(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const request = session.request({ ":method": "GET", ":path": "/discover", accept: "application/vnd.restate.endpointmanifest.v3+json" });
    request.on("response", (headers) => {
      resolve(Number(headers[":status"]));
      session.close();
    });
    request.on("error", reject);
    request.end();
  });
}

describe("restate request identity", () => {
  let dir: string;
  let stack: Stack;
  let switchyard: Switchyard;
  let endpointPort: number;

  before(async () => {
    dir = await makeTempDir("request-identity");
    const pem = path.join(dir, "restate-identity.pem");
    execFileSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", pem]);
    stack = await startStack({ restate: { env: { RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE: pem } } });
    // restate-server logs the public half at start; that is where an operator copies it from.
    const kid = /kid="?(publickeyv1_[1-9A-HJ-NP-Za-km-z]+)/.exec(stack.restate.logs(500))?.[1];
    assert.ok(kid, `restate-server logged its request identity key\n${stack.restate.logs(40)}`);
    const env = await stack.switchyardEnv({
      SWITCHYARD_API_TOKENS: `acme=${randomBytes(24).toString("hex")}`,
      SWITCHYARD_RESTATE_IDENTITY_KEYS: kid,
    });
    endpointPort = Number(env.SWITCHYARD_ENDPOINT_PORT);
    await ensureDatabase(stack.mariadb.url);
    switchyard = await startSwitchyard(env, { readyTimeoutMs: 30_000 });
  });

  after(async () => {
    await switchyard?.stop();
    await stack?.stop();
    if (dir) await removeTempDir(dir);
  });

  it("registers and serves invocations signed by restate-server", async () => {
    const response = await fetch(`${stack.restate.ingressUrl}/System/ping`, { method: "POST", headers: { "content-type": "application/json" }, body: "null" });
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(((await response.json()) as { version: string }).version, /^\d+\.\d+\.\d+/);
  });

  it("refuses an unsigned caller on the endpoint port", async () => {
    assert.equal(await unsignedDiscovery(endpointPort), 401);
  });
});
