// A certificate for a verified custom domain, ordered from Pebble over HTTP-01: switchyard
// answers the challenge on its API port (Pebble resolves the hostname through challtestsrv to
// 127.0.0.1), stores the chain and the sealed key, and the hostname's gateway config names it.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { DnsRecordPurpose, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { CertificateStatus, ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { parseMasterKeys, Vault } from "../../src/vault/vault.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
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
  const verifiedDomain = async (hostname: string, extra: { tls?: boolean } = {}): Promise<Domain> => {
    const domain = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname, ...extra })).domain!;
    const txt = domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
    await app.stack.pebble!.challtestsrv.addTxt(txt.name, txt.value);
    return (await network().verifyDomain({ domainId: domain.id })).domain!;
  };

  it("issues a certificate, stores its key sealed, and attaches it to the gateway config", async () => {
    const domain = await verifiedDomain("secure.example.com");
    const pending = (await network().provisionCert({ domainId: domain.id })).certificate!;
    assert.equal(pending.status, CertificateStatus.PENDING);
    const issued = await until(
      "the certificate to be issued",
      async () => {
        const { certificate } = await network().getCertificate({ lookup: { case: "domainId", value: domain.id } });
        if (certificate?.status === CertificateStatus.FAILED) throw new Error(`issuance failed: ${certificate.lastError}`);
        return certificate?.status === CertificateStatus.ACTIVE ? certificate : undefined;
      },
      60_000,
      200,
    );
    assert.equal(issued.id, pending.id);
    const leaf = new X509Certificate(issued.pemChain);
    assert.match(leaf.subjectAltName ?? "", /DNS:secure\.example\.com/);
    assert.ok(issued.renewAt && issued.notAfter);

    const config = await app.client(RoutingService, "acme").getGatewayConfig({ hostname: "secure.example.com" });
    assert.equal(config.config?.certificateId, issued.id);
    const tls = (await network().getDomain({ domainId: domain.id })).domain!.conditions.find((c) => c.type === "TLSReady")!;
    assert.equal(tls.status, ConditionStatus.TRUE);
    const event = await app.db.selectFrom("events").select("type").where("subject", "=", issued.id).executeTakeFirst();
    assert.equal(event?.type, "CertProvisioned");

    // The key is stored sealed, opens with the vault, and belongs to the certificate.
    const row = await app.db.selectFrom("certificates").selectAll().where("id", "=", issued.id).executeTakeFirstOrThrow();
    const stored = await sql<{ k: Buffer }>`SELECT key_ciphertext AS k FROM certificates WHERE id = ${issued.id}`.execute(app.db);
    assert.equal(stored.rows[0]!.k.includes(Buffer.from("PRIVATE KEY")), false);
    const vault = new Vault(parseMasterKeys(app.env.SWITCHYARD_MASTER_KEYS!) as { id: string; key: Buffer }[]);
    const key = vault.open(row as Parameters<Vault["open"]>[0], `certificates/${row.id}`);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(key)), "the stored key is the certificate's");

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
});
