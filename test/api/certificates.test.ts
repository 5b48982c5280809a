// A certificate for a verified custom domain, ordered from Pebble over HTTP-01: switchyard
// answers the challenge on its API port (Pebble resolves the hostname through challtestsrv to
// 127.0.0.1), stores the chain and the sealed key, and the hostname's gateway config names it.
import assert from "node:assert/strict";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { DnsRecordPurpose, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { CertificateStatus, ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { parseMasterKeys, Vault } from "../../src/vault/vault.js";
import { startApp, type App } from "../support/app.js";
import { runCli } from "../support/cli.js";
import { databaseDump } from "../support/databaseDump.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { startSwitchyard } from "../harness/index.js";
import { until } from "../support/until.js";

describe("certificates over HTTP-01", () => {
  let app: App;
  let acme: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, answerHttp01: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    acme = await createProject(app, "acme");
    await deploy(app, acme);
  });
  after(async () => {
    await app?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  /** TLSReady is True: the certificate is stored, attached to the gateway config and announced. */
  const tlsReady = async (domainId: string) => {
    const { certificate } = await network().getCertificate({ lookup: { case: "domainId", value: domainId } }).catch(() => ({ certificate: undefined }));
    if (certificate?.status === CertificateStatus.FAILED) throw new Error(`issuance failed: ${certificate.lastError}`);
    const current = (await network().getDomain({ domainId })).domain!;
    return current.conditions.find((c) => c.type === "TLSReady")?.status === ConditionStatus.TRUE;
  };
  const verifiedDomain = async (hostname: string, extra: { tls?: boolean } = {}): Promise<Domain> => {
    const domain = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname, ...extra })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    return (await network().verifyDomain({ domainId: domain.id })).domain!;
  };

  it("issues a certificate, stores its key sealed, and attaches it to the gateway config", async () => {
    // Verified and TLS-enabled: the certificate is ordered without a ProvisionCert call.
    const domain = await verifiedDomain("secure.example.com");
    // TLSReady turns True last, once the certificate is stored and attached to the gateway config.
    await until("TLSReady", () => tlsReady(domain.id), 60_000, 200);
    const issued = (await network().getCertificate({ lookup: { case: "domainId", value: domain.id } })).certificate!;
    assert.equal(issued.status, CertificateStatus.ACTIVE);
    const leaf = new X509Certificate(issued.pemChain);
    assert.match(leaf.subjectAltName ?? "", /DNS:secure\.example\.com/);
    assert.ok(issued.renewAt && issued.notAfter);

    const config = await app.client(RoutingService, "acme").getGatewayConfig({ hostname: "secure.example.com" });
    assert.equal(config.config?.certificateId, issued.id);
    const event = await app.db.selectFrom("events").select("type").where("subject", "=", issued.id).executeTakeFirst();
    assert.equal(event?.type, "CertProvisioned");

    // The key is stored sealed, opens with the vault, and belongs to the certificate.
    const row = await app.db.selectFrom("certificates").selectAll().where("id", "=", issued.id).executeTakeFirstOrThrow();
    const stored = await sql<{ k: Buffer }>`SELECT key_ciphertext AS k FROM certificates WHERE id = ${issued.id}`.execute(app.db);
    assert.equal(stored.rows[0]!.k.includes(Buffer.from("PRIVATE KEY")), false);
    const vault = new Vault(parseMasterKeys(app.env.SWITCHYARD_MASTER_KEYS!) as { id: string; key: Buffer }[]);
    const key = vault.open(row as Parameters<Vault["open"]>[0], `certificates/${row.id}`);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(key)), "the stored key is the certificate's");

    // Gateways look the certificate up by hostname (any case, Unicode or A-label); other tenants cannot.
    const acmeApi = (tenant: "acme" | "globex") => app.client(AcmeService, tenant);
    const byHost = (await acmeApi("acme").getCertificate({ hostname: "Secure.Example.com" })).certificate!;
    assert.deepEqual([byHost.id, byHost.pemChain], [issued.id, issued.pemChain]);
    for (const [tenant, hostname, code] of [
      ["globex", "secure.example.com", Code.NotFound],
      ["acme", "nothing.example.com", Code.NotFound],
      ["acme", "https://secure.example.invalid/", Code.InvalidArgument],
    ] as const) {
      const error = await acmeApi(tenant).getCertificate({ hostname }).then(() => undefined, (e: unknown) => ConnectError.from(e));
      assert.equal(error?.code, code, `${tenant} ${hostname}`);
    }

    const again = (await network().provisionCert({ domainId: domain.id })).certificate!;
    assert.deepEqual([again.id, again.status], [issued.id, CertificateStatus.ACTIVE], "a valid certificate is returned, not re-ordered");
  });

  it("refuses HTTP-only and unproven domains with a reason", async () => {
    const httpOnly = await verifiedDomain("plain.example.com", { tls: false });
    const unproven = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "unproven.example.com" })).domain!;
    for (const [domainId, message] of [
      [httpOnly.id, /HTTP-only/],
      [unproven.id, /not proven yet/],
    ] as const) {
      const error = await network().provisionCert({ domainId }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(error?.code, Code.FailedPrecondition);
      assert.match(error!.rawMessage, message);
    }
  });
  for (const [killedAfter, hostname] of [
    ["create order", "crash-ordered.example.com"],
    ["finalize order", "crash-finalized.example.com"],
  ] as const) {
    it(`completes an order exactly once when switchyard is SIGKILLed right after "${killedAfter}"`, async () => {
      // Added without its TXT proof, so the first switchyard cannot verify (and order) it.
      const domain = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname })).domain!;
      const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
      // The fault is armed for every order the new process runs: earlier orders must be done.
      await app.stack.restate.waitUntilQuiet();
      await app.switchyard.stop();
      const crashing = await startSwitchyard(app.env, { readyTimeoutMs: 30_000, killAfterStep: killedAfter });
      app.switchyard = crashing;
      await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
      // Verification orders the certificate, on the switchyard that dies after that step —
      // possibly before it has answered this call.
      await network().verifyDomain({ domainId: domain.id }).catch(() => undefined);
      await until(`switchyard to die after "${killedAfter}"`, () => !crashing.process.running, 60_000);
      const hit = crashing.faultHit();
      assert.ok(hit?.target.startsWith(`Certificate/${hostname}/`), `the fault hit ${hit?.target ?? "nothing"}, not this hostname's order`);
      await crashing.restart();
      // TLSReady turns True after the certificate is stored and its event written.
      await until("TLSReady after the restart", () => tlsReady(domain.id), 60_000, 200);
      const issued = (await network().getCertificate({ lookup: { case: "domainId", value: domain.id } })).certificate!;
      assert.equal(issued.status, CertificateStatus.ACTIVE);
      const rows = await app.db.selectFrom("certificates").select(["id", "status"]).where("hostname", "=", hostname).execute();
      assert.deepEqual(rows, [{ id: issued.id, status: "issued" }], "one certificate, issued once");
      const events = await app.db.selectFrom("events").select("type").where("subject", "=", issued.id).execute();
      assert.deepEqual(events.map((e) => e.type), ["CertProvisioned"]);
    });
  }

  it("keeps no private key in plaintext, and issues with the keys `switchyard keys rotate` re-sealed", async () => {
    const dump = await databaseDump(app);
    assert.doesNotMatch(dump, /PRIVATE KEY/);
    const oldKeys = app.env.SWITCHYARD_MASTER_KEYS!;
    const vault = new Vault(parseMasterKeys(oldKeys) as { id: string; key: Buffer }[]);
    const sealed = await app.db.selectFrom("certificates").selectAll().where("key_ciphertext", "is not", null).execute();
    assert.ok(sealed.length > 0);
    for (const row of sealed) {
      const der = createPrivateKey(vault.open(row as Parameters<Vault["open"]>[0], `certificates/${row.id}`)).export({ format: "der", type: "pkcs8" });
      assert.equal(dump.includes(der.toString("hex")), false, `the key of ${row.id} is not in the dump`);
    }

    const newKeys = `test-2:${randomBytes(32).toString("base64")},${oldKeys}`;
    const rotated = await runCli(["keys", "rotate"], { DATABASE_URL: app.stack.mariadb.url, SWITCHYARD_MASTER_KEYS: newKeys });
    assert.equal(rotated.code, 0, rotated.out);
    assert.match(rotated.out, new RegExp(`re-encrypted under test-2: .*${sealed.length} certificates`));
    const after = await app.db.selectFrom("certificates").select("master_key_id").where("key_ciphertext", "is not", null).execute();
    assert.ok(after.every((r) => r.master_key_id === "test-2"));

    // Only the new key from here on: the account key and new certificate keys work under it.
    await app.switchyard.stop();
    const onlyNew = newKeys.split(",")[0]!;
    app.switchyard = await startSwitchyard({ ...app.env, SWITCHYARD_MASTER_KEYS: onlyNew }, { readyTimeoutMs: 30_000 });
    const domain = await verifiedDomain("rotated.example.com");
    await until("TLSReady under the new master key", () => tlsReady(domain.id), 60_000, 200);
    const issued = await app.db.selectFrom("certificates").select("master_key_id").where("hostname", "=", "rotated.example.com").where("status", "=", "issued").executeTakeFirstOrThrow();
    assert.equal(issued.master_key_id, "test-2");
  });

  it("orders through the one platform account when SWITCHYARD_ACME_ACCOUNT=platform", async () => {
    await app.switchyard.stop();
    app.switchyard = await startSwitchyard({ ...app.env, SWITCHYARD_MASTER_KEYS: app.switchyard.env.SWITCHYARD_MASTER_KEYS!, SWITCHYARD_ACME_ACCOUNT: "platform" }, { readyTimeoutMs: 30_000 });
    const domain = await verifiedDomain("platform-account.example.com");
    await until("TLSReady through the platform account", () => tlsReady(domain.id), 60_000, 200);
    const accounts = await app.db.selectFrom("acme_users").select(["scope", "registration_uri"]).where("scope", "=", "platform").execute();
    assert.equal(accounts.length, 1);
    assert.ok(accounts[0]!.registration_uri, "registered with the CA");
  });
});
