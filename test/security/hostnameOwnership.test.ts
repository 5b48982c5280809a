// owned-hostnames-only: a hostname is routed only for the project that owns it — hostnames
// generated for that project under the platform apex, or custom domains verified for it. Tenant
// globex tries to take tenant acme's hostnames through every routing RPC; acme's traffic must
// stay on acme's deployments. Real MariaDB, Restate and DNS (pebble-challtestsrv).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { DnsRecordPurpose, DomainStatus, NetworkService, type Domain } from "../../src/gen/ctrl/v1/network_pb.js";
import { StickyLevel } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";
import { newId } from "../../src/db/ids.js";
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture, type Tenant } from "../support/fixtures.js";
import { invocationsOf, restateQuery } from "../support/restateQuery.js";
import { until } from "../support/until.js";

const APEX = "switchyard.test-apex.dev";
const liveHostname = (f: ProjectFixture) => `${f.projectSlug}-${f.workspaceSlug}.${APEX}`;
const envHostname = (f: ProjectFixture, env = "production") => `${f.projectSlug}-env-${env}-${f.workspaceSlug}.${APEX}`;

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => assert.fail("expected the call to fail"),
    (error: unknown) => ConnectError.from(error),
  );
}

describe("hostname ownership", () => {
  let app: App;
  let acme: ProjectFixture;
  let acmeLive: string;
  let globex: ProjectFixture;
  let globexReady: string;
  before(async () => {
    app = await startApp({ pebble: true, env: { SWITCHYARD_DNS_TIMEOUT: "500ms" } });
    acme = await createProject(app, "acme");
    acmeLive = (await deploy(app, acme)).id;
    globex = await createProject(app, "globex");
    globexReady = (await deploy(app, globex)).id;
  });
  after(async () => {
    await app?.stop();
  });

  const network = (tenant: Tenant) => app.client(NetworkService, tenant);
  const routing = (tenant: Tenant) => app.client(RoutingService, tenant);
  const dns = () => app.stack.pebble!.challtestsrv;
  const record = (domain: Domain, purpose: DnsRecordPurpose) => domain.requiredRecords.find((r) => r.purpose === purpose)!;
  const addDomain = async (who: ProjectFixture, hostname: string) =>
    (await network(who.tenant).addDomain({ workspaceId: who.workspaceId, projectId: who.projectId, hostname })).domain!;
  const verifyByTxt = async (who: ProjectFixture, domain: Domain) => {
    const txt = record(domain, DnsRecordPurpose.VERIFICATION);
    await dns().addTxt(txt.name, txt.value);
    return (await network(who.tenant).verifyDomain({ domainId: domain.id })).domain!;
  };
  const routeOf = async (hostname: string) => app.db.selectFrom("routes").select(["project_id", "deployment_id"]).where("hostname", "=", hostname).executeTakeFirst();
  const configOf = async (hostname: string) => app.db.selectFrom("gateway_configs").select(["project_id", "deployment_id"]).where("hostname", "=", hostname).executeTakeFirst();
  const assignAsGlobex = (hostname: string) =>
    routing("globex").assignDomains({ projectId: globex.projectId, deploymentId: globexReady, domains: [{ hostname, sticky: StickyLevel.BRANCH }] });

  it("AssignDomains refuses every hostname the caller's project does not own, and routes none of them", async () => {
    const pending = await addDomain(acme, "pending-claim.example.com");
    const unborn = await createProject(app, "acme", [], { workspaceId: acme.workspaceId, workspaceSlug: acme.workspaceSlug });
    const acmeDeploymentName = (await app.db.selectFrom("routes").select("hostname").where("deployment_id", "=", acmeLive).where("sticky", "=", "commit").executeTakeFirstOrThrow()).hostname;
    const targets = [
      ["acme's pending custom domain", pending.hostname, Code.FailedPrecondition],
      ["acme's live hostname", liveHostname(acme), Code.PermissionDenied],
      ["acme's deployment hostname", acmeDeploymentName, Code.PermissionDenied],
      ["a generated hostname of an acme project never deployed", envHostname(unborn), Code.PermissionDenied],
      ["somebody else's name", "www-x.google.com", Code.FailedPrecondition],
      ["a local name", "intranet.local", Code.FailedPrecondition],
    ] as const;
    for (const [what, hostname, code] of targets) {
      const before = { route: await routeOf(hostname), config: await configOf(hostname) };
      const error = await failure(assignAsGlobex(hostname));
      assert.equal(Code[error.code], Code[code], `${what}: ${error.rawMessage}`);
      assert.match(error.rawMessage, /^domains\[0\]\.hostname: /, `${what}: names the field`);
      assert.doesNotMatch(error.rawMessage, /another project|belongs to|reserved|verified by/i, `${what}: reveals nothing about the owner`);
      assert.ok(!error.rawMessage.includes(acme.projectId) && !error.rawMessage.includes(unborn.projectId), `${what}: names no project of acme's`);
      assert.deepEqual({ route: await routeOf(hostname), config: await configOf(hostname) }, before, `${what}: nothing changed`);
    }
    // An IP written in any form is normalised (UTS-46 / WHATWG) before the IP check.
    for (const ip of ["0xa.0.0.1", "10.0.0.1", "127.1", "0x7f000001"]) {
      const error = await failure(assignAsGlobex(ip));
      assert.equal(Code[error.code], "InvalidArgument", `${ip}: ${error.rawMessage}`);
      assert.match(error.rawMessage, /^domains\[0\]\.hostname: .*IP address/, ip);
    }
    assert.equal((await routeOf(liveHostname(acme)))?.deployment_id, acmeLive, "acme's traffic stays on acme's deployment");

    // An unclaimed name and acme's pending claim get the same answer: nothing reveals the claim.
    const [claimed, unclaimed] = await Promise.all([failure(assignAsGlobex(pending.hostname)), failure(assignAsGlobex("nobody-claimed.example.com"))]);
    assert.equal(claimed.code, unclaimed.code);
    assert.equal(claimed.rawMessage.replaceAll(pending.hostname, "<host>"), unclaimed.rawMessage.replaceAll("nobody-claimed.example.com", "<host>"));
  });

  it("SwitchDomains and AssignFrontlineRoutes cannot move another tenant's hostnames or routes", async () => {
    const acmeRoute = await app.db.selectFrom("routes").select(["id", "hostname"]).where("hostname", "=", liveHostname(acme)).executeTakeFirstOrThrow();
    const switched = await failure(routing("globex").switchDomains({ projectId: globex.projectId, deploymentId: globexReady, hostnames: [acmeRoute.hostname] }));
    const missing = await failure(routing("globex").switchDomains({ projectId: globex.projectId, deploymentId: globexReady, hostnames: [`nope-${globex.workspaceSlug}.${APEX}`] }));
    assert.equal(Code[switched.code], Code[missing.code]);
    const frontline = await failure(routing("globex").assignFrontlineRoutes({ projectId: globex.projectId, deploymentId: globexReady, frontlineRouteIds: [acmeRoute.id] }));
    const frontlineMissing = await failure(routing("globex").assignFrontlineRoutes({ projectId: globex.projectId, deploymentId: globexReady, frontlineRouteIds: [newId("rte")] }));
    assert.equal(Code[frontline.code], Code[frontlineMissing.code]);
    assert.equal((await routeOf(acmeRoute.hostname))?.deployment_id, acmeLive);
  });

  it("reserves a project's generated hostnames before its first deploy", async () => {
    // acme's project "web-a" in workspace "x-…" and a globex project "web" in workspace "a-x-…"
    // would both generate the live hostname web-a-x-….<apex>.
    const suffix = acme.workspaceSlug.slice(-6);
    const acmeDeploy = app.client(DeployService, "acme");
    const ws = (await acmeDeploy.createWorkspace({ slug: `x-${suffix}`, name: "x" })).workspace!;
    const project = (await acmeDeploy.createProject({ workspaceId: ws.id, slug: "web-a" })).project!;
    const first: ProjectFixture = { tenant: "acme", workspaceId: ws.id, workspaceSlug: ws.slug, projectId: project.id, projectSlug: "web-a" };
    const globexDeploy = app.client(DeployService, "globex");
    const squatterWs = (await globexDeploy.createWorkspace({ slug: `a-x-${suffix}`, name: "squatter" })).workspace!;
    const refused = await failure(globexDeploy.createProject({ workspaceId: squatterWs.id, slug: "web" }));
    assert.equal(Code[refused.code], "AlreadyExists", refused.rawMessage);
    assert.match(refused.rawMessage, /^slug: .*web-a-x-/);

    const live = await deploy(app, first);
    assert.equal((await routeOf(liveHostname(first)))?.deployment_id, live.id, "the first project's live hostname is its own");
  });

  it("a verified claim wins over a route another project holds", async () => {
    // A route left by an earlier version that did not check ownership: globex serves acme's name.
    const hostname = "legacy.example.com";
    await app.db
      .insertInto("routes")
      .values({ id: newId("rte"), hostname, workspace_id: globex.workspaceId, project_id: globex.projectId, environment_id: null, deployment_id: globexReady, sticky: "commit" })
      .execute();
    const domain = await addDomain(acme, hostname);
    assert.equal((await verifyByTxt(acme, domain)).status, DomainStatus.VERIFIED);
    const route = await until("acme's live deployment to serve its verified domain", async () => {
      const found = await routeOf(hostname);
      return found?.project_id === acme.projectId ? found : undefined;
    });
    assert.equal(route.deployment_id, acmeLive);
    assert.equal((await configOf(hostname))?.deployment_id, acmeLive);
  });

  it("refuses mixed-script labels (UTS #39) and accepts single-script IDNs", async () => {
    const spoof = await failure(network("acme").addDomain({ workspaceId: acme.workspaceId, projectId: acme.projectId, hostname: "\u0430pple.com" }));
    assert.equal(Code[spoof.code], "InvalidArgument");
    assert.match(spoof.rawMessage, /^hostname: .*mixes scripts \(Cyrillic and Latin\)/);
    for (const hostname of ["bücher.example.com", "пример.рф", "例え.jp", "δοκιμή.gr"]) {
      const domain = await addDomain(acme, hostname);
      assert.equal(domain.status, DomainStatus.PENDING, hostname);
    }
  });

  it("a claim made before a release does not verify while the name is reserved for its previous owner", async () => {
    const hostname = "tombstoned.example.com";
    const owned = await addDomain(acme, hostname);
    assert.equal((await verifyByTxt(acme, owned)).status, DomainStatus.VERIFIED);
    const early = await addDomain(globex, hostname); // pending while acme holds it
    await network("acme").removeDomain({ domainId: owned.id });
    const checked = await verifyByTxt(globex, early);
    assert.equal(checked.status, DomainStatus.PENDING, "the reservation holds at verification too");
    assert.match(checked.diagnoses.map((d) => d.problem).join("\n"), /released by its previous owner and is reserved for it until/);
  });

  it("reads the domain it checks through a journaled step, so a replay takes the journal's branch", async () => {
    const domain = await addDomain(acme, "journaled.example.com");
    await network("acme").verifyDomain({ domainId: domain.id });
    const steps = await restateQuery<{ name: string | null }>(
      app.stack.restate.adminUrl,
      `SELECT j.name AS name FROM sys_journal j JOIN sys_invocation i ON j.id = i.id
        WHERE i.target_service_name = 'Domain' AND i.target_service_key = '${domain.id}' AND i.target_handler_name = 'verify'`,
    );
    assert.ok(steps.some((s) => s.name === "load domain"), `journal: ${steps.map((s) => s.name).join(", ")}`);
  });

  it("withdraws routes through the Project object when a domain is removed or taken over", async () => {
    const removed = await addDomain(acme, "removed.example.com");
    assert.equal((await verifyByTxt(acme, removed)).status, DomainStatus.VERIFIED);
    await until("the verified domain to be routed", async () => (await routeOf(removed.hostname))?.project_id === acme.projectId);
    await network("acme").removeDomain({ domainId: removed.id });
    assert.equal(await routeOf(removed.hostname), undefined);
    const removals = await invocationsOf(app.stack.restate.adminUrl, "Project", "removeDomain", acme.projectId);
    assert.ok(removals.length >= 1, "RemoveDomain ran as an exclusive handler of the domain's Project object");

    const taken = await addDomain(acme, "taken.example.net");
    await dns().addCname(taken.hostname, record(taken, DnsRecordPurpose.ROUTING).value);
    assert.equal((await network("acme").verifyDomain({ domainId: taken.id })).domain!.status, DomainStatus.VERIFIED);
    await until("the verified domain to be routed", async () => (await routeOf(taken.hostname))?.project_id === acme.projectId);
    const claim = await addDomain(globex, taken.hostname);
    assert.equal((await verifyByTxt(globex, claim)).status, DomainStatus.VERIFIED);
    await until("globex's deployment to serve the name it took over", async () => (await routeOf(taken.hostname))?.project_id === globex.projectId);
    const withdrawals = await invocationsOf(app.stack.restate.adminUrl, "Project", "withdrawHostnames", acme.projectId);
    assert.ok(withdrawals.length >= 1, "the takeover withdrew acme's route through acme's Project object");
  });
});
