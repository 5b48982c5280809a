// Page tokens are signed by the server (HMAC): a token anyone could compute from guessable
// fields — the request's filters, a position — is refused with InvalidArgument naming
// `page_token`, and nothing inside a token reaches a query untyped.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { RouteProtocol } from "../../src/gen/ctrl/v1/resources_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

const APEX = "switchyard.test-apex.dev";

/** A token as an unkeyed digest scheme would accept it: JSON of position and a filter digest. */
function forged(after: unknown, id: unknown, filters: unknown): string {
  const digest = createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 16);
  return Buffer.from(JSON.stringify({ a: after, i: id, f: digest })).toString("base64url");
}

describe("page tokens", () => {
  let app: App;
  let acme: ProjectFixture;
  let endpointId: string;
  before(async () => {
    app = await startApp();
    acme = await createProject(app, "acme");
    await deploy(app, acme);
    const network = app.client(NetworkService, "acme");
    const hostname = `${acme.projectSlug}-${acme.workspaceSlug}.${APEX}`;
    for (const path of ["/a", "/b", "/c"]) await network.addRoute({ projectId: acme.projectId, hostname, path, port: 8080, protocol: RouteProtocol.HTTP, weight: 1 });
    endpointId = (await network.createWebhookEndpoint({ workspaceId: acme.workspaceId, url: "https://hooks.acme.invalid/x", eventTypes: ["CertExpiring"] })).endpoint!.id;
  });
  after(async () => {
    await app?.stop();
  });

  const refused = async (what: string, call: Promise<unknown>) => {
    const error = await call.then(
      () => assert.fail(`${what}: the forged token was accepted`),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(Code[error.code], "InvalidArgument", `${what}: ${error.rawMessage}`);
    assert.match(error.rawMessage, /^page_token: /, what);
  };

  it("refuses tokens that were not signed by the server, whatever they hold", async () => {
    const network = app.client(NetworkService, "acme");
    const deployApi = app.client(DeployService, "acme");
    const routeFilters = { rpc: "ListRoutes", tenantId: "acme", projectId: acme.projectId, deploymentId: "" };
    await refused("ListRoutes, position not JSON", network.listRoutes({ projectId: acme.projectId, pageToken: forged("{not json", "nrt_x", routeFilters) }));
    await refused("ListRoutes, objects in the position", network.listRoutes({ projectId: acme.projectId, pageToken: forged(JSON.stringify([{ or: [] }, { and: [] }]), "nrt_x", routeFilters) }));
    const deliveryFilters = { rpc: "ListWebhookDeliveries", tenantId: "acme", endpointId, status: 0 };
    await refused("ListWebhookDeliveries, position not numbers", network.listWebhookDeliveries({ endpointId, pageToken: forged("x/y", "whd_x", deliveryFilters) }));
    await refused("ListDeployments, a guessed digest", deployApi.listDeployments({ projectId: acme.projectId, pageToken: forged("", "dep_zzzz", { rpc: "ListDeployments", project: acme.projectId, branch: "", status: 0 }) }));
    await refused("ListWorkspaces, a guessed digest", deployApi.listWorkspaces({ pageToken: forged("", "ws_0", { rpc: "ListWorkspaces", tenantId: "acme" }) }));
    await refused("ListDomains, garbage", network.listDomains({ workspaceId: acme.workspaceId, pageToken: "%%%" }));
  });

  it("accepts its own tokens only for the request and the tenant they were made for", async () => {
    const network = app.client(NetworkService, "acme");
    const first = await network.listRoutes({ projectId: acme.projectId, pageSize: 1 });
    assert.ok(first.nextPageToken);
    const second = await network.listRoutes({ projectId: acme.projectId, pageSize: 1, pageToken: first.nextPageToken });
    assert.equal(second.routes.length, 1);
    assert.notEqual(second.routes[0]!.id, first.routes[0]!.id);
    // A signed token with one byte changed no longer verifies.
    const bytes = Buffer.from(first.nextPageToken, "base64url");
    bytes[Math.floor(bytes.length / 2)]! ^= 1;
    await refused("a tampered token", network.listRoutes({ projectId: acme.projectId, pageSize: 1, pageToken: bytes.toString("base64url") }));
    await refused("another request's token", network.listDomains({ workspaceId: acme.workspaceId, pageToken: first.nextPageToken }));
    const other = await createProject(app, "globex");
    await refused("another tenant using it", app.client(NetworkService, "globex").listRoutes({ projectId: other.projectId, pageToken: first.nextPageToken }));
  });
});
