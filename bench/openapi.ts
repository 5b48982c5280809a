/*
 * npm run bench:openapi — what OpenAPI specs cost, on the real stack with a real agent running the
 * sample app. Writes bench/results/openapi.json.
 *
 *   get spec        GetSpec of a stored spec (one indexed read): the baseline of this run
 *   get diff        GetDiff of the sample app's v1 and v2 (load both, parse, run oasdiff)
 *   differ          the SpecDiffer alone, in this process (oasdiff's process start and check)
 *   promote         Promote back and forth between two ready deployments, with specs that differ
 *                   (policy warn: the gate diffs, the changes are returned and an event written),
 *                   against the same promotes in a project whose deployments publish no spec
 *                   (the gate reads the policy and finds nothing to compare)
 */
import "../src/polyfill.js";
import fs from "node:fs";
import path from "node:path";
import { DeployService, DeploymentStatus } from "../src/gen/ctrl/v1/deploy_pb.js";
import { OpenApiService } from "../src/gen/ctrl/v1/openapi_pb.js";
import { parseSpecText } from "../src/openapi/document.js";
import { OasdiffSpecDiffer } from "../src/openapi/specDiffer.js";
import { repoRoot, startAgent } from "../test/harness/index.js";
import { startApp } from "../test/support/app.js";
import { createProject, waitForStatus, type ProjectFixture } from "../test/support/fixtures.js";
import { deployHello } from "../test/support/helloApp.js";
import { report } from "./lib/report.js";
import { percentile, round, timeIt } from "./lib/stats.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100);
const PROMOTES = Number(process.env.BENCH_PROMOTES ?? 40);

const app = await startApp({ env: { SWITCHYARD_LOG_LEVEL: "warn", SWITCHYARD_STANDBY_GRACE: "1h" } });
const agent = await startAgent({ url: app.switchyard.url, token: app.tokens.agents.local! });
try {
  const openapi = app.client(OpenApiService, "acme");
  const deployApi = app.client(DeployService, "acme");
  const ready = async (fixture: ProjectFixture, variant: string) => {
    const created = await deployHello(app, fixture, { env: { HELLO_OPENAPI: variant } });
    const done = await waitForStatus(app, "acme", created.id, 60_000);
    if (done.status !== DeploymentStatus.READY) throw new Error(`${variant}: ${done.errorMessage}`);
    return done.id;
  };
  const withSpecs = await createProject(app);
  const [v1, v2] = [await ready(withSpecs, "v1"), await ready(withSpecs, "v2")];
  const without = await createProject(app);
  const [n1, n2] = [await ready(without, "none"), await ready(without, "none")];

  const getSpec = await timeIt(ITERATIONS, 10, () => openapi.getSpec({ deploymentId: v1 }));
  const getDiff = await timeIt(ITERATIONS, 10, () => openapi.getDiff({ oldDeploymentId: v1, newDeploymentId: v2 }));
  const differ = new OasdiffSpecDiffer();
  const read = (name: string) => parseSpecText(fs.readFileSync(path.join(repoRoot, "examples", "hello", "openapi", `${name}.yaml`), "utf8")) as object;
  const [doc1, doc2] = [read("v1"), read("v2")];
  const direct = await timeIt(ITERATIONS, 5, () => differ.diff(doc1, doc2));
  // v2 is live in both projects' terms after their second deploy: promote the other one, then back.
  const promoteWith = await timeIt(PROMOTES, 2, (i) => deployApi.promote({ deploymentId: i % 2 === 0 ? v1 : v2 }));
  const promoteWithout = await timeIt(PROMOTES, 2, (i) => deployApi.promote({ deploymentId: i % 2 === 0 ? n1 : n2 }));

  const p50 = (s: number[]) => round(percentile(s, 50));
  const p99 = (s: number[]) => round(percentile(s, 99));
  report("openapi", {
    get_spec_p50_ms: p50(getSpec),
    get_diff_p50_ms: p50(getDiff),
    get_diff_p99_ms: p99(getDiff),
    get_diff_over_get_spec: round(percentile(getDiff, 50) / percentile(getSpec, 50)),
    differ_p50_ms: p50(direct),
    promote_with_spec_diff_p50_ms: p50(promoteWith),
    promote_with_spec_diff_p99_ms: p99(promoteWith),
    promote_without_specs_p50_ms: p50(promoteWithout),
    promote_with_over_without: round(percentile(promoteWith, 50) / percentile(promoteWithout, 50)),
    iterations: ITERATIONS,
    promotes: PROMOTES,
  });
} finally {
  await agent.stop();
  await app.stop();
}
