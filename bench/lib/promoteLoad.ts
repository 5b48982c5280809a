import { randomBytes } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { newId } from "../../src/db/ids.js";
import { round } from "./stats.js";
import type { App } from "../../test/support/app.js";
import { createProject, deploy, type ProjectFixture } from "../../test/support/fixtures.js";

// Promote load shared by bench:promote and bench:scale: projects with two ready deployments,
// and N concurrent clients promoting back and forth across them.

export interface Pair {
  fixture: ProjectFixture;
  a: string;
  b: string;
}

/** A project with two ready production deployments and `hostnames` live-level hostnames. */
export async function projectWithHostnames(app: App, hostnames: number, workspace?: ProjectFixture): Promise<Pair> {
  const fixture = await createProject(app, "acme", [], workspace);
  const a = (await deploy(app, fixture)).id;
  const b = (await deploy(app, fixture)).id; // live
  const extra = hostnames - 2; // the live and production-environment hostnames exist already
  // Seeded straight into MySQL: AssignDomains routes only hostnames a project owns (generated for
  // it, or verified custom domains), and this measures the swap, not 1,000 verifications.
  const production = await app.db.selectFrom("environments").select("id").where("project_id", "=", fixture.projectId).where("slug", "=", "production").executeTakeFirstOrThrow();
  for (let start = 0; start < extra; start += 1000) {
    const count = Math.min(1000, extra - start);
    await app.db
      .insertInto("routes")
      .values(
        Array.from({ length: count }, (_, i) => ({
          id: newId("rte"),
          hostname: `live-${start + i}-${fixture.projectSlug}.example.com`,
          workspace_id: fixture.workspaceId,
          project_id: fixture.projectId,
          environment_id: production.id,
          deployment_id: b,
          sticky: "live" as const,
        })),
      )
      .execute();
  }
  const live = await app.db.selectFrom("routes").select((eb) => eb.fn.countAll<number>().as("n")).where("project_id", "=", fixture.projectId).where("sticky", "in", ["live", "environment"]).executeTakeFirstOrThrow();
  if (Number(live.n) !== hostnames) throw new Error(`expected ${hostnames} live-level hostnames, found ${live.n}`);
  return { fixture, a, b };
}

export interface Throughput {
  perSecond: number;
  succeeded: number;
  refused: number;
}

/**
 * Completed promote calls per second for `clients` concurrent callers spread over `pairs`, for
 * `durationMs`. Caller c uses `apis[c % apis.length]` (several replicas: round-robin).
 */
export async function promoteThroughput(apis: Client<typeof DeployService>[], pairs: Pair[], clients: number, durationMs: number): Promise<Throughput> {
  const deadline = performance.now() + durationMs;
  let succeeded = 0;
  let refused = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const api = apis[c % apis.length]!;
      for (let i = 0; performance.now() < deadline; i++) {
        const pair = pairs[(c + i * clients) % pairs.length]!;
        const target = (c + i) % 2 === 0 ? pair.a : pair.b;
        try {
          // A unique key skips the API's pre-check: every call goes through the project's lock.
          await api.promote({ deploymentId: target, idempotencyKey: randomBytes(8).toString("hex") });
          succeeded++;
        } catch (error) {
          if (ConnectError.from(error).code !== Code.FailedPrecondition) throw error;
          refused++; // lost a race: the target was already live — still a locked transaction
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: round((succeeded + refused) / seconds), succeeded, refused };
}

/**
 * The floor under promoteThroughput: the same clients promoting each project's live deployment
 * again, with a unique key, so every call goes through the front door (Connect, authentication,
 * the API's read), a Restate invocation of the Project object with its key, and the swap's step
 * up to the project's lock and the reads sent with it — where the gate refuses it (already live):
 * everything a promote costs except routing's own writes.
 */
export async function refusedPromoteThroughput(api: Client<typeof DeployService>, liveDeploymentIds: string[], clients: number, durationMs: number): Promise<{ perSecond: number; calls: number }> {
  const deadline = performance.now() + durationMs;
  let calls = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const live = liveDeploymentIds[(c + i * clients) % liveDeploymentIds.length]!;
        const refused = await api.promote({ deploymentId: live, idempotencyKey: randomBytes(8).toString("hex") }).then(
          () => false,
          (error: unknown) => ConnectError.from(error).code === Code.FailedPrecondition,
        );
        if (!refused) throw new Error(`promote of the live deployment ${live} was not refused`);
        calls++;
      }
    }),
  );
  return { perSecond: round(calls / ((performance.now() - started) / 1000)), calls };
}
