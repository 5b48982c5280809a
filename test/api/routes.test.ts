// NetworkService routes: weighted path rules of a project's hostnames, run through the Project
// object, versioned in the change feed and folded into the hostname's gateway config.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { RouteProtocol } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

const codeOf = (call: Promise<unknown>) =>
  call.then(
    () => "ok",
    (error: unknown) => `${Code[ConnectError.from(error).code]}: ${ConnectError.from(error).rawMessage}`,
  );

describe("traffic routes", () => {
  let app: App;
  let acme: ProjectFixture;
  let hostname: string;
  let older: string;
  let live: string;
  before(async () => {
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h" } });
    acme = await createProject(app, "acme");
    older = (await deploy(app, acme)).id;
    live = (await deploy(app, acme)).id;
    const row = await app.db.selectFrom("routes").select("hostname").where("project_id", "=", acme.projectId).where("sticky", "=", "live").executeTakeFirstOrThrow();
    hostname = row.hostname;
  });
  after(async () => {
    await app?.stop();
  });

  const network = () => app.client(NetworkService, "acme");
  const rulesOf = async (host: string) => (await app.client(RoutingService, "acme").getGatewayConfig({ hostname: host })).config!.rules;

  it("adds a weighted rule to the hostname's gateway config, updates it with a version check and removes it", async () => {
    const { route } = await network().addRoute({ projectId: acme.projectId, hostname, path: "/api", deploymentId: older, port: 8080, protocol: RouteProtocol.HTTP, weight: 30, stripPrefix: true });
    assert.ok(route && route.version > 0n);
    const rules = await rulesOf(hostname);
    assert.deepEqual(
      rules.map((r) => [r.routeId, r.path, r.deploymentId, r.weight, r.stripPrefix]),
      [[route.id, "/api", older, 30, true]],
    );
    assert.ok(rules[0]!.upstreams.length > 0, "the rule carries the older deployment's instances");

    assert.match(
      await codeOf(network().addRoute({ projectId: acme.projectId, hostname, path: "/api", deploymentId: live, port: 8080, protocol: RouteProtocol.HTTP, weight: 80 })),
      /^FailedPrecondition: weight: the routes of .* on \/api would carry 110% .*at most 100 \(70% is left\)/,
    );
    assert.match(
      await codeOf(network().addRoute({ projectId: acme.projectId, hostname, path: "/api", deploymentId: older, port: 9090, protocol: RouteProtocol.HTTP, weight: 10 })),
      /^AlreadyExists: /,
    );

    const updated = (await network().updateRoute({ routeId: route.id, weight: 60, expectedVersion: route.version })).route!;
    assert.equal(updated.weight, 60);
    assert.ok(updated.version > route.version);
    assert.equal((await rulesOf(hostname))[0]!.weight, 60);
    assert.match(await codeOf(network().updateRoute({ routeId: route.id, weight: 50, expectedVersion: route.version })), /^FailedPrecondition: expected_version: /);
    assert.match(await codeOf(network().updateRoute({ routeId: route.id })), /^InvalidArgument: route_id: nothing to update/);

    const listed = await network().listRoutes({ projectId: acme.projectId });
    assert.deepEqual(listed.routes.map((r) => r.id), [route.id]);

    const removed = await network().removeRoute({ routeId: route.id, idempotencyKey: "rm-1" });
    assert.ok(removed.changeVersion > updated.version);
    assert.deepEqual(await rulesOf(hostname), []);
    const retried = await network().removeRoute({ routeId: route.id, idempotencyKey: "rm-1" });
    assert.equal(retried.changeVersion, removed.changeVersion, "a retried removal answers the same");
    assert.match(await codeOf(network().removeRoute({ routeId: route.id })), /^NotFound: /);
  });

  it("keeps a rule without a deployment on whatever the hostname points at", async () => {
    const { route } = await network().addRoute({ projectId: acme.projectId, hostname, path: "/static", port: 8081, protocol: RouteProtocol.HTTP, weight: 100 });
    assert.equal(route?.deploymentId, "");
    assert.equal((await rulesOf(hostname)).find((r) => r.path === "/static")?.deploymentId, live);
    await network().removeRoute({ routeId: route!.id });
  });

  it("refuses bad routes with the right code, naming the field", async () => {
    const base = { projectId: acme.projectId, hostname, path: "/x", port: 8080, protocol: RouteProtocol.HTTP };
    const other = await createProject(app, "globex");
    const pending = (await network().addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "pending.example.com" })).domain!;
    const deploymentElsewhere = (await deploy(app, await createProject(app, "acme"))).id;
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ["no leading slash", () => network().addRoute({ ...base, path: "api" }), /^InvalidArgument: path: /],
      ["dot segment", () => network().addRoute({ ...base, path: "/a/../b" }), /^InvalidArgument: path: /],
      ["port 0", () => network().addRoute({ ...base, port: 0 }), /^InvalidArgument: port: /],
      ["port too big", () => network().addRoute({ ...base, port: 70000 }), /^InvalidArgument: port: /],
      ["no protocol", () => network().addRoute({ ...base, protocol: RouteProtocol.UNSPECIFIED }), /^InvalidArgument: protocol: /],
      ["weight 101", () => network().addRoute({ ...base, weight: 101 }), /^InvalidArgument: weight: /],
      ["tcp with a path", () => network().addRoute({ ...base, protocol: RouteProtocol.TCP }), /^InvalidArgument: path: /],
      ["bad hostname", () => network().addRoute({ ...base, hostname: "not a host" }), /^InvalidArgument: hostname: /],
      ["not the project's hostname", () => network().addRoute({ ...base, hostname: "elsewhere.example.com" }), /^NotFound: hostname: /],
      ["unverified custom domain", () => network().addRoute({ ...base, hostname: pending.hostname }), /^FailedPrecondition: hostname: .*not verified/],
      ["another tenant's project", () => network().addRoute({ ...base, projectId: other.projectId }), /^NotFound: project /],
      ["deployment of another project", () => network().addRoute({ ...base, deploymentId: deploymentElsewhere }), /^InvalidArgument: deployment_id: /],
      ["empty route id", () => network().updateRoute({ routeId: "", weight: 1 }), /^InvalidArgument: route_id: /],
      ["unknown route", () => network().removeRoute({ routeId: "nrt_unknown" }), /^NotFound: /],
    ];
    const before = await app.db.selectFrom("network_routes").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    for (const [label, call, expected] of cases) assert.match(await codeOf(call()), expected, label);
    const afterCount = await app.db.selectFrom("network_routes").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n), "nothing was written");
  });
});
