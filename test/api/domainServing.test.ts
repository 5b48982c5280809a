// A verified custom domain is served: its Domain object attaches it, through the Project object,
// to the live deployment (a route and a gateway config), it follows the live deployment on the
// next deploy, and it is withdrawn — with a tombstone in the change feed — when another account
// takes it over or it is removed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DnsRecordPurpose, DomainStatus, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";
import { until } from "../support/until.js";

describe("serving a verified custom domain", () => {
  let app: App;
  let acme: ProjectFixture;
  let globex: ProjectFixture;
  before(async () => {
    app = await startApp({ pebble: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms", SWITCHYARD_STANDBY_GRACE: "1h" } });
    acme = await createProject(app, "acme");
    globex = await createProject(app, "globex");
  });
  after(async () => {
    await app?.stop();
  });

  const txtOf = (domain: Domain) => domain.requiredRecords.find((r) => r.purpose === DnsRecordPurpose.VERIFICATION)!;
  const publish = (domain: Domain) => app.stack.pebble!.challtestsrv.addTxt(txtOf(domain).name, txtOf(domain).value);
  const gatewayConfig = (hostname: string) => app.db.selectFrom("gateway_configs").select(["deployment_id", "project_id", "version"]).where("hostname", "=", hostname).executeTakeFirst();
  const route = (hostname: string) => app.db.selectFrom("routes").select(["deployment_id", "project_id", "sticky"]).where("hostname", "=", hostname).executeTakeFirst();

  it("attaches to the live deployment once verified, follows the next deploy, and is withdrawn on takeover", async () => {
    const v1 = await deploy(app, acme);
    const claim = (await app.client(NetworkService, "acme").addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "shop.example.com" })).domain!;
    assert.equal(await gatewayConfig("shop.example.com"), undefined, "nothing is served before ownership is proven");

    await publish(claim);
    const verified = (await app.client(NetworkService, "acme").verifyDomain({ domainId: claim.id })).domain!;
    assert.equal(verified.status, DomainStatus.VERIFIED);
    assert.equal(verified.conditions.find((c) => c.type === "TargetReady")?.status, ConditionStatus.TRUE);
    assert.deepEqual(await gatewayConfig("shop.example.com").then((g) => g?.deployment_id), v1.id);
    assert.deepEqual(await route("shop.example.com"), { deployment_id: v1.id, project_id: acme.projectId, sticky: "environment" });

    const v2 = await deploy(app, acme);
    assert.equal((await gatewayConfig("shop.example.com"))?.deployment_id, v2.id, "a production custom domain follows the live deployment");

    const rival = (await app.client(NetworkService, "globex").addDomain({ workspaceId: globex.workspaceId, projectId: globex.projectId, hostname: "shop.example.com" })).domain!;
    await publish(rival);
    const before = await gatewayConfig("shop.example.com");
    assert.equal((await app.client(NetworkService, "globex").verifyDomain({ domainId: rival.id })).domain?.status, DomainStatus.VERIFIED);
    assert.equal(await route("shop.example.com"), undefined, "the former owner's route is gone");
    assert.equal(await gatewayConfig("shop.example.com"), undefined, "and so is its gateway config");
    const tombstone = await app.db
      .selectFrom("changes")
      .select(["deleted", "version"])
      .where("kind", "=", "gateway_config")
      .where("resource_key", "=", "shop.example.com")
      .orderBy("version", "desc")
      .executeTakeFirstOrThrow();
    assert.equal(tombstone.deleted, true);
    assert.ok(Number(tombstone.version) > Number(before!.version), "gateways see the withdrawal as a newer change");
    const reasons = await app.db.selectFrom("events").select("payload").where("type", "=", "DomainsDetached").where("subject", "=", acme.projectId).execute();
    assert.match(reasons.map((r) => r.payload).join(), /taken over by another account/);
  });

  it("is withdrawn when it is removed", async () => {
    const project = await createProject(app, "acme");
    await deploy(app, project);
    const domain = (await app.client(NetworkService, "acme").addDomain({ workspaceId: project.workspaceId, projectId: project.projectId, hostname: "gone.example.com" })).domain!;
    await publish(domain);
    await app.client(NetworkService, "acme").verifyDomain({ domainId: domain.id });
    await until("the domain to be served", async () => (await gatewayConfig("gone.example.com")) !== undefined);
    await app.client(NetworkService, "acme").removeDomain({ domainId: domain.id });
    assert.equal(await gatewayConfig("gone.example.com"), undefined);
    assert.equal(await route("gone.example.com"), undefined);
  });
});
