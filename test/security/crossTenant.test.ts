// Tenant isolation, RPC by RPC: every RPC that takes an id or a hostname, called as tenant globex
// with tenant acme's resources, answers exactly as it does for a resource that does not exist —
// the same code and the same message once the id is masked — and changes nothing (the whole
// database is dumped before and after). ClusterService is left to its own suite.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { RouteProtocol, StickyLevel } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { newId } from "../../src/db/ids.js";
import { startApp, type App } from "../support/app.js";
import { databaseDump } from "../support/databaseDump.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

const APEX = "switchyard.test-apex.dev";

/** What a cross-tenant call is made with: acme's real resources, or ids that exist nowhere. */
interface Ids {
  workspaceId: string;
  projectId: string;
  deploymentId: string;
  olderDeploymentId: string;
  domainId: string;
  certificateId: string;
  routeId: string;
  frontlineRouteId: string;
  endpointId: string;
  hostname: string;
  certificateHostname: string;
  challengeToken: string;
}

interface Answer {
  code: string;
  message: string;
}

describe("cross-tenant isolation", () => {
  let app: App;
  let acme: ProjectFixture;
  let globex: ProjectFixture;
  let globexDeployment: string;
  let globexRouteId: string;
  let acmeIds: Ids;
  let missingIds: Ids;

  before(async () => {
    // No background check or standby may write while the database is compared.
    app = await startApp({ env: { SWITCHYARD_DOMAIN_CHECK_BACKOFF: "24h", SWITCHYARD_STANDBY_GRACE: "24h" } });
    acme = await createProject(app, "acme");
    const older = (await deploy(app, acme)).id;
    const live = (await deploy(app, acme)).id;
    globex = await createProject(app, "globex");
    globexDeployment = (await deploy(app, globex)).id;

    const network = app.client(NetworkService, "acme");
    const liveHostname = `${acme.projectSlug}-${acme.workspaceSlug}.${APEX}`;
    const domain = (await network.addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "isolated.example.com" })).domain!;
    const route = (await network.addRoute({ projectId: acme.projectId, hostname: liveHostname, path: "/api", port: 8080, protocol: RouteProtocol.HTTP, weight: 10 })).route!;
    const endpoint = (await network.createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "https://hooks.acme.invalid/events", eventTypes: ["CertExpiring"] })).endpoint!;
    const frontline = await app.db.selectFrom("routes").select("id").where("hostname", "=", liveHostname).executeTakeFirstOrThrow();
    // A certificate and a pending HTTP-01 challenge of acme's, as an order leaves them.
    const certificateId = newId("crt");
    await app.db.insertInto("certificates").values({ id: certificateId, hostname: domain.hostname, custom_domain_id: domain.id, workspace_id: acme.workspaceId, status: "issued", auto_renew: true, pem_chain: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", not_after: new Date(Date.now() + 30 * 86_400_000) }).execute();
    const challengeToken = "acmeTokenOfAcme0123456789abcdef";
    await app.db.insertInto("acme_challenges").values({ id: newId("chl"), custom_domain_id: domain.id, hostname: domain.hostname, type: "http-01", token: challengeToken, key_authorization: `${challengeToken}.thumbprint`, status: "pending" }).execute();
    const globexRoute = await app.client(NetworkService, "globex").addRoute({ projectId: globex.projectId, hostname: `${globex.projectSlug}-${globex.workspaceSlug}.${APEX}`, path: "/x", port: 8080, protocol: RouteProtocol.HTTP, weight: 5 });
    globexRouteId = globexRoute.route!.id;

    acmeIds = {
      workspaceId: acme.workspaceId,
      projectId: acme.projectId,
      deploymentId: live,
      olderDeploymentId: older,
      domainId: domain.id,
      certificateId,
      routeId: route.id,
      frontlineRouteId: frontline.id,
      endpointId: endpoint.id,
      hostname: liveHostname,
      certificateHostname: domain.hostname,
      challengeToken,
    };
    missingIds = {
      workspaceId: newId("ws"),
      projectId: newId("prj"),
      deploymentId: newId("dep"),
      olderDeploymentId: newId("dep"),
      domainId: newId("dom"),
      certificateId: newId("crt"),
      routeId: newId("nrt"),
      frontlineRouteId: newId("rte"),
      endpointId: newId("whk"),
      hostname: `web-nothing-${acme.workspaceSlug}.${APEX}`,
      certificateHostname: "never-claimed.example.com",
      challengeToken: "noSuchToken0123456789abcdefghij",
    };
  });
  after(async () => {
    await app?.stop();
  });

  /** The calls, as globex, each taking the ids to use. */
  function cases(): [string, (ids: Ids) => Promise<unknown>][] {
    const deployApi = app.client(DeployService, "globex");
    const routing = app.client(RoutingService, "globex");
    const network = app.client(NetworkService, "globex");
    const acmeApi = app.client(AcmeService, "globex");
    const image = { case: "image" as const, value: { image: "registry.example.com/intruder:1", port: 8080, env: {}, command: [] } };
    const ownHostname = `${globex.projectSlug}-${globex.workspaceSlug}.${APEX}`;
    return [
      ["GetWorkspace", (ids) => deployApi.getWorkspace({ workspaceId: ids.workspaceId })],
      ["ListProjects", (ids) => deployApi.listProjects({ workspaceId: ids.workspaceId })],
      ["CreateProject", (ids) => deployApi.createProject({ workspaceId: ids.workspaceId, slug: "intruder" })],
      ["GetProject", (ids) => deployApi.getProject({ projectId: ids.projectId })],
      ["ListEnvironments", (ids) => deployApi.listEnvironments({ projectId: ids.projectId })],
      ["CreateEnvironment", (ids) => deployApi.createEnvironment({ projectId: ids.projectId, slug: "intruder" })],
      ["CreateDeployment", (ids) => deployApi.createDeployment({ workspaceId: ids.workspaceId, projectId: ids.projectId, environment: "production", source: image })],
      ["CreateDeployment (own workspace)", (ids) => deployApi.createDeployment({ workspaceId: globex.workspaceId, projectId: ids.projectId, environment: "production", source: image })],
      ["GetDeployment", (ids) => deployApi.getDeployment({ deploymentId: ids.deploymentId })],
      ["ListDeployments", (ids) => deployApi.listDeployments({ projectId: ids.projectId })],
      ["CancelDeployment", (ids) => deployApi.cancelDeployment({ deploymentId: ids.deploymentId })],
      ["Promote", (ids) => deployApi.promote({ deploymentId: ids.olderDeploymentId })],
      ["Rollback", (ids) => deployApi.rollback({ deploymentId: ids.olderDeploymentId })],
      ["Rollback (own deployment, their live as guard)", (ids) => deployApi.rollback({ deploymentId: globexDeployment, expectedLiveDeploymentId: ids.deploymentId })],
      ["AssignDomains", (ids) => routing.assignDomains({ projectId: ids.projectId, deploymentId: ids.deploymentId, domains: [{ hostname: ownHostname, sticky: StickyLevel.BRANCH }] })],
      ["AssignDomains (own project)", (ids) => routing.assignDomains({ projectId: globex.projectId, deploymentId: ids.deploymentId, domains: [{ hostname: ownHostname, sticky: StickyLevel.BRANCH }] })],
      ["AssignDomains (their hostname)", (ids) => routing.assignDomains({ projectId: globex.projectId, deploymentId: globexDeployment, domains: [{ hostname: ids.hostname, sticky: StickyLevel.BRANCH }] })],
      ["SwitchDomains", (ids) => routing.switchDomains({ projectId: ids.projectId, deploymentId: ids.deploymentId, hostnames: [ownHostname] })],
      ["SwitchDomains (their hostname)", (ids) => routing.switchDomains({ projectId: globex.projectId, deploymentId: globexDeployment, hostnames: [ids.hostname] })],
      ["AssignFrontlineRoutes", (ids) => routing.assignFrontlineRoutes({ projectId: ids.projectId, deploymentId: ids.deploymentId, frontlineRouteIds: [ids.frontlineRouteId] })],
      ["AssignFrontlineRoutes (their route)", (ids) => routing.assignFrontlineRoutes({ projectId: globex.projectId, deploymentId: globexDeployment, frontlineRouteIds: [ids.frontlineRouteId] })],
      ["GetGatewayConfig", (ids) => routing.getGatewayConfig({ hostname: ids.hostname })],
      ["AddDomain", (ids) => network.addDomain({ workspaceId: ids.workspaceId, projectId: ids.projectId, hostname: "intruder.example.com" })],
      ["VerifyDomain", (ids) => network.verifyDomain({ domainId: ids.domainId })],
      ["GetDomain", (ids) => network.getDomain({ domainId: ids.domainId })],
      ["ListDomains", (ids) => network.listDomains({ workspaceId: ids.workspaceId })],
      ["RemoveDomain", (ids) => network.removeDomain({ domainId: ids.domainId })],
      ["RemoveDomain (with a key)", (ids) => network.removeDomain({ domainId: ids.domainId, idempotencyKey: "retry-1" })],
      ["ProvisionCert", (ids) => network.provisionCert({ domainId: ids.domainId })],
      ["GetCertificate (id)", (ids) => network.getCertificate({ lookup: { case: "certificateId", value: ids.certificateId } })],
      ["GetCertificate (domain)", (ids) => network.getCertificate({ lookup: { case: "domainId", value: ids.domainId } })],
      ["AddRoute", (ids) => network.addRoute({ projectId: ids.projectId, hostname: ids.hostname, path: "/steal", port: 8080, protocol: RouteProtocol.HTTP })],
      ["AddRoute (own project, their deployment)", (ids) => network.addRoute({ projectId: globex.projectId, hostname: ownHostname, deploymentId: ids.deploymentId, path: "/steal", port: 8080, protocol: RouteProtocol.HTTP, weight: 1 })],
      ["UpdateRoute", (ids) => network.updateRoute({ routeId: ids.routeId, weight: 50 })],
      ["UpdateRoute (own route, their deployment)", (ids) => network.updateRoute({ routeId: globexRouteId, deploymentId: ids.deploymentId })],
      ["RemoveRoute", (ids) => network.removeRoute({ routeId: ids.routeId })],
      ["RemoveRoute (with a key)", (ids) => network.removeRoute({ routeId: ids.routeId, idempotencyKey: "retry-1" })],
      ["ListRoutes", (ids) => network.listRoutes({ projectId: ids.projectId })],
      ["WatchEvents", async (ids) => {
        for await (const _ of network.watchEvents({ workspaceId: ids.workspaceId, afterEventId: 0n }, { timeoutMs: 3000 })) return "a message";
      }],
      ["CreateWebhookEndpoint", (ids) => network.createWebhookEndpoint({ workspaceId: ids.workspaceId, url: "https://hooks.globex.invalid/steal" })],
      ["ListWebhookEndpoints", (ids) => network.listWebhookEndpoints({ workspaceId: ids.workspaceId })],
      ["DeleteWebhookEndpoint", (ids) => network.deleteWebhookEndpoint({ endpointId: ids.endpointId })],
      ["DeleteWebhookEndpoint (with a key)", (ids) => network.deleteWebhookEndpoint({ endpointId: ids.endpointId, idempotencyKey: "retry-1" })],
      ["ListWebhookDeliveries", (ids) => network.listWebhookDeliveries({ endpointId: ids.endpointId })],
      ["CreateAcmeUser", (ids) => acmeApi.createAcmeUser({ workspaceId: ids.workspaceId })],
      ["ValidateDomain", (ids) => acmeApi.validateDomain({ domainId: ids.domainId })],
      ["AcmeService.GetCertificate", (ids) => acmeApi.getCertificate({ hostname: ids.certificateHostname })],
      ["VerifyCertificate", (ids) => acmeApi.verifyCertificate({ token: ids.challengeToken })],
      ["VerifyCertificate (with host)", (ids) => acmeApi.verifyCertificate({ token: ids.challengeToken, hostname: ids.certificateHostname })],
    ];
  }

  /** The call's answer with every id of `ids` masked, so two answers compare as text. */
  async function answer(call: (ids: Ids) => Promise<unknown>, ids: Ids): Promise<Answer> {
    const result = await call(ids).then(
      () => ({ code: "OK", message: "" }),
      (error: unknown) => {
        const e = ConnectError.from(error);
        return { code: Code[e.code], message: e.rawMessage };
      },
    );
    let message = result.message;
    for (const [key, value] of Object.entries(ids)) message = message.replaceAll(value, `<${key}>`);
    return { code: result.code, message };
  }

  it("answers every call on another tenant's resource exactly like one on a missing resource, and writes nothing", async () => {
    const before = await databaseDump(app);
    const mismatches: string[] = [];
    for (const [name, call] of cases()) {
      const theirs = await answer(call, acmeIds);
      const missing = await answer(call, missingIds);
      if (theirs.code === "OK") mismatches.push(`${name}: succeeded on acme's resource`);
      else if (theirs.code !== missing.code || theirs.message !== missing.message) {
        mismatches.push(`${name}: theirs ${theirs.code} "${theirs.message}" / missing ${missing.code} "${missing.message}"`);
      }
    }
    assert.deepEqual(mismatches, []);
    assert.equal(await databaseDump(app), before, "no row changed");
  });
});
