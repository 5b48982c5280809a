// ACME accounts against Pebble, the vault as it stores their keys (and re-seals them on
// rotation), and the HTTP-01 answer path.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { newId } from "../../src/db/ids.js";
import { parseMasterKeys, Vault } from "../../src/vault/vault.js";
import { httpRequest } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { runCli } from "../support/cli.js";
import { databaseDump } from "../support/databaseDump.js";
import { createProject, type ProjectFixture } from "../support/fixtures.js";

describe("ACME accounts and HTTP-01 answers", () => {
  let app: App;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true });
    acme = await createProject(app, "acme");
  });
  after(async () => {
    await app?.stop();
  });

  const acmeClient = (tenant: "acme" | "globex" = "acme") => app.client(AcmeService, tenant);
  const code = (call: Promise<unknown>) => call.then(() => "ok", (e: unknown) => Code[ConnectError.from(e).code]);

  it("registers one account per workspace with the CA, also when first used concurrently", async () => {
    const first = await acmeClient().createAcmeUser({ workspaceId: acme.workspaceId, email: "ops@example.com" });
    assert.equal(first.created, true);
    assert.ok(first.user?.registrationUri.startsWith("https://127.0.0.1:"), first.user?.registrationUri);
    const again = await acmeClient().createAcmeUser({ workspaceId: acme.workspaceId });
    assert.deepEqual([again.created, again.user?.id], [false, first.user?.id]);

    const fresh = await createProject(app, "acme");
    const racers = await Promise.all(Array.from({ length: 5 }, () => acmeClient().createAcmeUser({ workspaceId: fresh.workspaceId })));
    assert.equal(new Set(racers.map((r) => r.user?.id)).size, 1, "every caller gets the same account");
    assert.equal(racers.filter((r) => r.created).length <= 1, true);
    const rows = await app.db.selectFrom("acme_users").select("id").where("scope", "=", fresh.workspaceId).execute();
    assert.equal(rows.length, 1);
  });

  it("refuses the platform account, other tenants' workspaces and bad e-mail addresses", async () => {
    assert.equal(await code(acmeClient().createAcmeUser({ workspaceId: "" })), "Unauthenticated");
    assert.equal(await code(acmeClient("globex").createAcmeUser({ workspaceId: acme.workspaceId })), "NotFound");
    assert.equal(await code(acmeClient().createAcmeUser({ workspaceId: acme.workspaceId, email: "not-an-address" })), "InvalidArgument");
  });

  it("stores no private key in plaintext, and `switchyard keys rotate` re-seals every key under a new master key", async () => {
    await acmeClient().createAcmeUser({ workspaceId: acme.workspaceId });
    assert.doesNotMatch(await databaseDump(app), /PRIVATE KEY/);
    const oldKeys = app.env.SWITCHYARD_MASTER_KEYS!;
    const newKeys = `test-2:${randomBytes(32).toString("base64")},${oldKeys}`;
    const rotated = await runCli(["keys", "rotate"], { DATABASE_URL: app.stack.mariadb.url, SWITCHYARD_MASTER_KEYS: newKeys });
    assert.equal(rotated.code, 0, rotated.out);
    assert.match(rotated.out, /re-encrypted under test-2: [1-9]\d* acme_users/);
    const rows = await app.db.selectFrom("acme_users").selectAll().execute();
    assert.ok(rows.every((r) => r.master_key_id === "test-2"));
    const onlyNew = new Vault((parseMasterKeys(newKeys) as { id: string; key: Buffer }[]).slice(0, 1));
    for (const row of rows) assert.match(onlyNew.open(row, `acme_users/${row.id}`).toString(), /BEGIN (EC )?PRIVATE KEY/);
  });

  it("answers a pending HTTP-01 challenge for its hostname only, and to its tenant's gateways", async () => {
    const domain = (await app.client(NetworkService).addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "tls.example.com" })).domain!;
    const token = randomBytes(24).toString("base64url");
    await app.db
      .insertInto("acme_challenges")
      .values({ id: newId("chl"), custom_domain_id: domain.id, hostname: "tls.example.com", type: "http-01", token, key_authorization: `${token}.thumbprint`, status: "pending" })
      .execute();
    const get = (host: string, path = `/.well-known/acme-challenge/${token}`) => httpRequest(`${app.switchyard.url}${path}`, { headers: { host }, timeoutMs: 5000 });
    const served = await get("tls.example.com");
    assert.deepEqual([served.status, served.body], [200, `${token}.thumbprint`]);
    assert.equal((await get("other.example.com")).status, 404);
    assert.equal((await get("tls.example.com", "/.well-known/acme-challenge/unknown-token-0123456789")).status, 404);

    const answer = await acmeClient().verifyCertificate({ token, hostname: "tls.example.com" });
    assert.equal(answer.keyAuthorization, `${token}.thumbprint`);
    assert.equal(await code(acmeClient("globex").verifyCertificate({ token })), "NotFound");
    assert.equal(await code(acmeClient().verifyCertificate({ token: "not base64!" })), "InvalidArgument");
  });
});
