// Specs a hostile (or broken) app can serve: none (404), 20 MiB, a $ref to another host, a
// redirect to another host, broken YAML. Each deploy still ends READY; what is stored says what
// happened; and nothing is ever fetched beyond the instance — a bystander server on another port,
// the target of the $ref and of the redirect, counts every request it gets.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeploymentStatus } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { OpenApiService } from "../../src/gen/ctrl/v1/openapi_pb.js";
import { startAgent, type Agent } from "../harness/index.js";
import { startApp, type App } from "../support/app.js";
import { createProject, waitForStatus } from "../support/fixtures.js";
import { deployHello } from "../support/helloApp.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected the call to fail");
}

describe("hostile specs", () => {
  let app: App;
  let agent: Agent;
  let bystander: http.Server;
  let bystanderUrl: string;
  const hits: string[] = [];
  /** Deployment id by HELLO_OPENAPI variant, all deployed at once. */
  const deployed: Record<string, string> = {};

  before(async () => {
    bystander = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      res.writeHead(200, { "content-type": "application/yaml" });
      res.end("type: object\n");
    });
    await new Promise<void>((resolve) => bystander.listen(0, "127.0.0.1", resolve));
    bystanderUrl = `http://127.0.0.1:${(bystander.address() as AddressInfo).port}`;
    app = await startApp({ env: { SWITCHYARD_STANDBY_GRACE: "1h", SWITCHYARD_OPENAPI_SCRAPE_TIMEOUT: "5s" } });
    agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local!, env: { SWITCHYARD_AGENT_HEALTH_INTERVAL: "500ms" } });
    const variants: Record<string, Record<string, string>> = {
      none: {},
      huge: {},
      invalid: {},
      "external-ref": { HELLO_OPENAPI_TARGET: `${bystanderUrl}/schemas/hello.yaml` },
      redirect: { HELLO_OPENAPI_TARGET: `${bystanderUrl}/openapi.yaml` },
      v1: {},
    };
    // One project each: nothing live to compare with, so the default policy has nothing to say.
    await Promise.all(
      Object.entries(variants).map(async ([variant, env]) => {
        const fixture = await createProject(app);
        const created = await deployHello(app, fixture, { env: { HELLO_OPENAPI: variant, ...env } });
        const done = await waitForStatus(app, "acme", created.id, 45_000);
        assert.equal(done.status, DeploymentStatus.READY, `${variant}: ${done.errorMessage}`);
        deployed[variant] = created.id;
      }),
    );
  });
  after(async () => {
    await agent?.stop();
    await app?.stop();
    await new Promise((resolve) => bystander?.close(resolve));
  });

  const openapi = () => app.client(OpenApiService, "acme");
  const scrape = (variant: string) => app.db.selectFrom("openapi_specs").selectAll().where("deployment_id", "=", deployed[variant]!).executeTakeFirstOrThrow();

  it("no spec (404): the deploy is ready, GetSpec says it publishes none", async () => {
    const refused = await rejection(openapi().getSpec({ deploymentId: deployed.none! }));
    assert.equal(refused.code, Code.NotFound);
    assert.match(refused.rawMessage, /404: the deployment publishes no spec/);
    assert.equal((await scrape("none")).outcome, "none");
  });

  it("a 20 MiB spec is not stored: the read stops at the 10 MiB cap and the deploy goes on", async () => {
    const refused = await rejection(openapi().getSpec({ deploymentId: deployed.huge! }));
    assert.equal(refused.code, Code.NotFound);
    assert.match(refused.rawMessage, /more than the 10485760-byte limit/);
    const row = await scrape("huge");
    assert.equal(row.outcome, "refused");
    assert.equal(row.document_hash, null);
  });

  it("invalid YAML is stored with its problem, and cannot be diffed", async () => {
    const spec = await openapi().getSpec({ deploymentId: deployed.invalid! });
    assert.match(spec.spec, /^openapi: 3\.0\.3/);
    assert.equal(spec.problems.length, 1);
    assert.match(spec.problems[0]!, /^YAML: /);
    const diff = await rejection(openapi().getDiff({ oldDeploymentId: deployed.invalid!, newDeploymentId: deployed.invalid! }));
    assert.equal(diff.code, Code.FailedPrecondition);
    assert.match(diff.rawMessage, new RegExp(`spec of deployment ${deployed.invalid} cannot be compared: YAML`));
  });

  it("an external $ref is stored as a problem and never resolved, by the validator or the differ", async () => {
    const spec = await openapi().getSpec({ deploymentId: deployed["external-ref"]! });
    assert.ok(spec.spec.includes(`${bystanderUrl}/schemas/hello.yaml`));
    assert.ok(spec.problems.some((p) => p.startsWith("external $ref not resolved") && p.includes(bystanderUrl)), JSON.stringify(spec.problems));
    const diff = await rejection(openapi().getDiff({ oldDeploymentId: deployed["external-ref"]!, newDeploymentId: deployed["external-ref"]! }));
    assert.equal(diff.code, Code.FailedPrecondition);
    assert.match(diff.rawMessage, /external \$ref/);
  });

  it("a redirect to another host is not followed", async () => {
    const refused = await rejection(openapi().getSpec({ deploymentId: deployed.redirect! }));
    assert.equal(refused.code, Code.NotFound);
    assert.match(refused.rawMessage, new RegExp(`redirected to ${bystanderUrl.replace(/[.]/g, "\\.")}, off the instance; not followed`));
    assert.equal((await scrape("redirect")).outcome, "refused");
  });

  it("nothing was fetched beyond the instances", () => {
    assert.deepEqual(hits, []);
  });

  it("a well-behaved spec beside them was stored whole", async () => {
    const spec = await openapi().getSpec({ deploymentId: deployed.v1! });
    assert.deepEqual(spec.problems, []);
  });
});
