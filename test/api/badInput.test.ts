// Bad input to DeployService gets the right code, a message naming the field, no SQL or stack
// trace — and nothing is written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import http from "node:http";
import http2 from "node:http2";
import { AcmeService } from "../../src/gen/ctrl/v1/acme_pb.js";
import { DeployService, type CreateDeploymentRequest } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../../src/gen/ctrl/v1/network_pb.js";
import { RouteProtocol, type StickyLevel } from "../../src/gen/ctrl/v1/resources_pb.js";
import { RoutingService } from "../../src/gen/ctrl/v1/routing_pb.js";

/** The fields a bad CreateDeployment request overrides. */
interface Override {
  workspaceId?: string;
  projectId?: string;
  environment?: string;
  source?: CreateDeploymentRequest["source"];
  idempotencyKey?: string;
  runtime?: { replicas: number; healthCheckPath: string; startupTimeout?: { seconds: bigint; nanos: number } };
}
import { startApp, type App } from "../support/app.js";
import { createProject, deploy, type ProjectFixture } from "../support/fixtures.js";

const TABLES = ["workspaces", "projects", "environments", "deployments", "deployment_steps", "routes", "gateway_configs", "changes", "events", "operations"];

async function rowCounts(app: App): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const result = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(app.db);
    counts[table] = Number(result.rows[0]!.n);
  }
  return counts;
}

describe("bad input to DeployService", () => {
  let app: App;
  let mine: ProjectFixture;
  let theirs: ProjectFixture;
  let theirDeployment: string;
  let myDeployment: string;
  before(async () => {
    app = await startApp();
    mine = await createProject(app, "acme");
    myDeployment = (await deploy(app, mine)).id;
    theirs = await createProject(app, "globex");
    theirDeployment = (await deploy(app, theirs)).id;
  });
  after(async () => {
    await app?.stop();
  });

  it("answers each bad request with its code and field, writing nothing", async () => {
    const client = app.client(DeployService);
    const network = app.client(NetworkService);
    const routing = app.client(RoutingService);
    const acme = app.client(AcmeService);
    const image = (over: Partial<{ image: string; port: number; env: Record<string, string>; command: string[] }> = {}) =>
      ({ case: "image", value: { image: "registry.example.com/web:1", port: 8080, env: {}, command: [], ...over } }) as CreateDeploymentRequest["source"];
    const create = (over: Override) =>
      client.createDeployment({ workspaceId: mine.workspaceId, projectId: mine.projectId, environment: "production", source: image(), ...over });
    const huge = "x".repeat(10_000);
    /** Every RPC that takes an idempotency key, with a NUL, a control character and 1 MB. */
    const badIdempotencyKeys = (): [string, () => Promise<unknown>, Code, RegExp][] => {
      const withKey: [string, (idempotencyKey: string) => Promise<unknown>][] = [
        ["CreateWorkspace", (k) => client.createWorkspace({ slug: "keyed", name: "x", idempotencyKey: k })],
        ["CreateProject", (k) => client.createProject({ workspaceId: mine.workspaceId, slug: "keyed", idempotencyKey: k })],
        ["CreateEnvironment", (k) => client.createEnvironment({ projectId: mine.projectId, slug: "keyed", idempotencyKey: k })],
        ["CreateDeployment", (k) => create({ idempotencyKey: k })],
        ["CancelDeployment", (k) => client.cancelDeployment({ deploymentId: myDeployment, idempotencyKey: k })],
        ["Promote", (k) => client.promote({ deploymentId: myDeployment, idempotencyKey: k })],
        ["Rollback", (k) => client.rollback({ deploymentId: myDeployment, idempotencyKey: k })],
        ["AddDomain", (k) => network.addDomain({ workspaceId: mine.workspaceId, projectId: mine.projectId, hostname: "keyed.example.com", idempotencyKey: k })],
        ["VerifyDomain", (k) => network.verifyDomain({ domainId: "dom_x", idempotencyKey: k })],
        ["RemoveDomain", (k) => network.removeDomain({ domainId: "dom_x", idempotencyKey: k })],
        ["ProvisionCert", (k) => network.provisionCert({ domainId: "dom_x", idempotencyKey: k })],
        ["AddRoute", (k) => network.addRoute({ projectId: mine.projectId, hostname: "keyed.example.com", port: 80, protocol: RouteProtocol.HTTP, idempotencyKey: k })],
        ["UpdateRoute", (k) => network.updateRoute({ routeId: "nrt_x", weight: 1, idempotencyKey: k })],
        ["RemoveRoute", (k) => network.removeRoute({ routeId: "nrt_x", idempotencyKey: k })],
        ["CreateWebhookEndpoint", (k) => network.createWebhookEndpoint({ workspaceId: mine.workspaceId, url: "https://keyed.invalid/", idempotencyKey: k })],
        ["DeleteWebhookEndpoint", (k) => network.deleteWebhookEndpoint({ endpointId: "whk_x", idempotencyKey: k })],
        ["AssignDomains", (k) => routing.assignDomains({ projectId: mine.projectId, deploymentId: myDeployment, domains: [{ hostname: "keyed.example.com" }], idempotencyKey: k })],
        ["SwitchDomains", (k) => routing.switchDomains({ projectId: mine.projectId, deploymentId: myDeployment, hostnames: ["keyed.example.com"], idempotencyKey: k })],
        ["AssignFrontlineRoutes", (k) => routing.assignFrontlineRoutes({ projectId: mine.projectId, deploymentId: myDeployment, frontlineRouteIds: ["rte_x"], idempotencyKey: k })],
        ["CreateAcmeUser", (k) => acme.createAcmeUser({ workspaceId: mine.workspaceId, idempotencyKey: k })],
        ["ValidateDomain", (k) => acme.validateDomain({ domainId: "dom_x", idempotencyKey: k })],
      ];
      return withKey.flatMap(([rpc, call]) =>
        (["a\u0000b", "a\u0007b", "k".repeat(1_000_000)] as const).map(
          (key, i): [string, () => Promise<unknown>, Code, RegExp] => [`${rpc} with a bad idempotency key (${["NUL", "control character", "1 MB"][i]})`, () => call(key), Code.InvalidArgument, /^idempotency_key/],
        ),
      );
    };
    const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
      ["empty workspace slug", () => client.createWorkspace({ slug: "", name: "x" }), Code.InvalidArgument, /^slug/],
      ["uppercase slug", () => client.createWorkspace({ slug: "Acme", name: "x" }), Code.InvalidArgument, /^slug/],
      ["slug with a trailing hyphen", () => client.createWorkspace({ slug: "acme-", name: "x" }), Code.InvalidArgument, /^slug/],
      ["slug of 41 characters", () => client.createWorkspace({ slug: "a".repeat(41), name: "x" }), Code.InvalidArgument, /^slug/],
      ["name of 10 KB", () => client.createWorkspace({ slug: "bigname", name: huge }), Code.InvalidArgument, /^name/],
      ["taken workspace slug (another tenant's)", () => client.createWorkspace({ slug: theirs.workspaceSlug, name: "x" }), Code.AlreadyExists, /^slug/],
      ["empty workspace_id", () => client.getWorkspace({ workspaceId: "" }), Code.InvalidArgument, /^workspace_id/],
      ["malformed workspace_id", () => client.getWorkspace({ workspaceId: "ws 1; DROP TABLE" }), Code.InvalidArgument, /^workspace_id/],
      ["unknown workspace", () => client.getWorkspace({ workspaceId: "ws_01jdoesnotexist0000000000" }), Code.NotFound, /workspace/],
      ["another tenant's workspace", () => client.getWorkspace({ workspaceId: theirs.workspaceId }), Code.NotFound, /workspace/],
      ["project in another tenant's workspace", () => client.createProject({ workspaceId: theirs.workspaceId, slug: "sneaky" }), Code.NotFound, /workspace/],
      ["another tenant's project", () => client.getProject({ projectId: theirs.projectId }), Code.NotFound, /project/],
      ["environment in another tenant's project", () => client.createEnvironment({ projectId: theirs.projectId, slug: "staging" }), Code.NotFound, /project/],
      ["bad environment slug", () => client.createEnvironment({ projectId: mine.projectId, slug: "Stag ing" }), Code.InvalidArgument, /^slug/],
      ["duplicate environment", () => client.createEnvironment({ projectId: mine.projectId, slug: "production" }), Code.AlreadyExists, /^slug/],
      ["deployment without source", () => create({ source: { case: undefined } }), Code.InvalidArgument, /^source/],
      ["deployment without environment", () => create({ environment: "" }), Code.InvalidArgument, /^environment/],
      ["deployment in another tenant's project", () => create({ workspaceId: theirs.workspaceId, projectId: theirs.projectId }), Code.NotFound, /workspace/],
      ["deployment mixing my workspace and their project", () => create({ projectId: theirs.projectId }), Code.NotFound, /project/],
      ["unknown environment", () => create({ environment: "staging" }), Code.NotFound, /environment/],
      ["uppercase image", () => create({ source: image({ image: "UPPER/case" }) }), Code.InvalidArgument, /^image\.image/],
      ["image with a space", () => create({ source: image({ image: "a b" }) }), Code.InvalidArgument, /^image\.image/],
      ["image with only a tag", () => create({ source: image({ image: ":tag" }) }), Code.InvalidArgument, /^image\.image/],
      ["short digest", () => create({ source: image({ image: "x@sha256:123" }) }), Code.InvalidArgument, /^image\.image/],
      ["absurd port", () => create({ source: image({ port: 70_000 }) }), Code.InvalidArgument, /^image\.port/],
      ["env key starting with a digit", () => create({ source: image({ env: { "1BAD": "x" } }) }), Code.InvalidArgument, /^image\.env/],
      ["300 env keys", () => create({ source: image({ env: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`K${i}`, "v"])) }) }), Code.InvalidArgument, /^image\.env/],
      ["100 command arguments", () => create({ source: image({ command: Array.from({ length: 100 }, () => "arg") }) }), Code.InvalidArgument, /^image\.command/],
      ["git sha that is not hex", () => create({ source: { case: "git", value: { sha: "not-a-sha", branch: "main", repository: "acme/web", message: "", author: "", port: 0, env: {} } } as CreateDeploymentRequest["source"] }), Code.InvalidArgument, /^git\.sha/],
      ["git branch with ..", () => create({ source: { case: "git", value: { sha: "abcdef1", branch: "a..b", repository: "acme/web", message: "", author: "", port: 0, env: {} } } as CreateDeploymentRequest["source"] }), Code.InvalidArgument, /^git\.branch/],
      ["idempotency key with spaces", () => create({ idempotencyKey: "has spaces" }), Code.InvalidArgument, /^idempotency_key/],
      ["21 replicas", () => create({ runtime: { replicas: 21, healthCheckPath: "" } }), Code.InvalidArgument, /^runtime\.replicas/],
      ["relative health-check path", () => create({ runtime: { replicas: 1, healthCheckPath: "healthz" } }), Code.InvalidArgument, /^runtime\.health_check_path/],
      ["health-check path with a space", () => create({ runtime: { replicas: 1, healthCheckPath: "/health z" } }), Code.InvalidArgument, /^runtime\.health_check_path/],
      ["startup timeout of 10 ms", () => create({ runtime: { replicas: 1, healthCheckPath: "", startupTimeout: { seconds: 0n, nanos: 10_000_000 } } }), Code.InvalidArgument, /^runtime\.startup_timeout/],
      ["empty deployment_id", () => client.getDeployment({ deploymentId: "" }), Code.InvalidArgument, /^deployment_id/],
      ["another tenant's deployment", () => client.getDeployment({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["cancel another tenant's deployment", () => client.cancelDeployment({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["promote another tenant's deployment", () => client.promote({ deploymentId: theirDeployment }), Code.NotFound, /deployment/],
      ["list with a forged page token", () => client.listDeployments({ projectId: mine.projectId, pageToken: "bm90LWEtdG9rZW4" }), Code.InvalidArgument, /^page_token/],
      ["list with a negative page size", () => client.listDeployments({ projectId: mine.projectId, pageSize: -1 }), Code.InvalidArgument, /^page_size/],
      ["list another tenant's project", () => client.listDeployments({ projectId: theirs.projectId }), Code.NotFound, /project/],
      ["workspace without a name", () => client.createWorkspace({ slug: "nameless", name: "" }), Code.InvalidArgument, /^name/],
      ["workspace with a blank name", () => client.createWorkspace({ slug: "blankname", name: "   " }), Code.InvalidArgument, /^name/],
      ["non-ASCII environment", () => create({ environment: "pr\u00f6duction" }), Code.InvalidArgument, /^environment/],
      ["non-ASCII environment filter", () => client.listDeployments({ projectId: mine.projectId, environment: "\u00fc" }), Code.InvalidArgument, /^environment/],
      ["non-ASCII domain environment", () => network.addDomain({ workspaceId: mine.workspaceId, projectId: mine.projectId, hostname: "env.example.com", environment: "pr\u00f6d" }), Code.InvalidArgument, /^environment/],
      ["env value with NUL", () => create({ source: image({ env: { KEY: "a\u0000b" } }) }), Code.InvalidArgument, /^image\.env\[KEY\]/],
      ["unknown sticky level", () => routing.assignDomains({ projectId: mine.projectId, deploymentId: myDeployment, domains: [{ hostname: "x.example.com", sticky: 99 as StickyLevel }] }), Code.InvalidArgument, /^domains\[0\]\.sticky/],
      ["non-ASCII ACME e-mail", () => acme.createAcmeUser({ workspaceId: mine.workspaceId, email: "j\u00fcrgen@example.com" }), Code.InvalidArgument, /^email/],
      ...badIdempotencyKeys(),
    ];
    assert.ok(cases.length >= 25);
    const before = await rowCounts(app);
    for (const [name, call, code, field] of cases) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      assert.ok(error, `${name}: expected ${Code[code]}, got success`);
      assert.equal(Code[error.code], Code[code], `${name}: ${error.rawMessage}`);
      assert.match(error.rawMessage, field, `${name}: message names the field`);
      assert.doesNotMatch(error.rawMessage, /\bSQL\b|ER_|\n\s+at |select |insert /i, `${name}: no SQL or stack trace`);
    }
    assert.deepEqual(await rowCounts(app), before, "nothing was written");
  });

  it("answers malformed bodies and frames with InvalidArgument, and a malformed body without a token with Unauthenticated", async () => {
    const url = new URL(app.switchyard.url);
    const post = (path: string, headers: Record<string, string>, body: Buffer | string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port, path, method: "POST", headers: { "content-length": Buffer.byteLength(body), ...headers } }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("error", reject);
        req.end(body);
      });
    const grpc = (headers: Record<string, string>, body: Buffer) =>
      new Promise<{ status: string; message: string }>((resolve, reject) => {
        const session = http2.connect(app.switchyard.url);
        session.on("error", reject);
        const stream = session.request({ ":method": "POST", ":path": "/ctrl.v1.DeployService/GetWorkspace", "content-type": "application/grpc", te: "trailers", ...headers });
        let status = "";
        let message = "";
        const take = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
          if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
        };
        stream.on("response", take);
        stream.on("trailers", take);
        stream.on("data", () => undefined);
        stream.on("end", () => {
          session.close();
          resolve({ status, message });
        });
        stream.on("error", reject);
        stream.end(body);
      });
    const auth = { authorization: `Bearer ${app.tokens.acme}` };
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]); // a length prefix beyond the message
    const binary = await post("/ctrl.v1.DeployService/GetWorkspace", { ...auth, "content-type": "application/proto" }, garbage);
    assert.equal(binary.status, 400, binary.body);
    assert.equal((JSON.parse(binary.body) as { code: string }).code, "invalid_argument");
    const frame = (payload: Buffer, length = payload.length) => Buffer.concat([Buffer.from([0, (length >>> 24) & 255, (length >>> 16) & 255, (length >>> 8) & 255, length & 255]), payload]);
    assert.deepEqual((await grpc(auth, frame(garbage))).status, "3", "a gRPC frame holding no valid message is InvalidArgument");
    assert.deepEqual((await grpc(auth, frame(Buffer.from([0x0a]), 100))).status, "3", "a truncated gRPC frame is InvalidArgument");
    for (const [what, headers, body] of [
      ["malformed JSON", { "content-type": "application/json" }, "{not json"],
      ["malformed protobuf", { "content-type": "application/proto" }, garbage],
    ] as const) {
      const answer = await post("/ctrl.v1.DeployService/GetWorkspace", headers, body);
      assert.equal(answer.status, 401, `${what} without a token: ${answer.body}`);
      assert.equal((JSON.parse(answer.body) as { code: string }).code, "unauthenticated", what);
    }
    assert.equal((await grpc({}, frame(garbage))).status, "16", "a malformed gRPC frame without a token is Unauthenticated");
  });

  it("pages through deployments without duplicates or gaps, and rejects a token reused with other filters", async () => {
    const project = await createProject(app, "acme", [], { workspaceId: mine.workspaceId, workspaceSlug: mine.workspaceSlug });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await deploy(app, project, { report: "none", wait: false, environment: "production" })).id);
    const client = app.client(DeployService);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await client.listDeployments({ projectId: project.projectId, pageSize: 3, pageToken });
      seen.push(...page.deployments.map((d) => d.id));
      pageToken = page.nextPageToken;
      pages++;
      if (pages === 1) {
        await assert.rejects(client.listDeployments({ projectId: project.projectId, pageSize: 3, pageToken, branch: "other" }), /page_token/);
      }
    } while (pageToken && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse(), "newest first, each once");
    for (const id of ids) await client.cancelDeployment({ deploymentId: id });
  });
});
