import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkPromote, checkRollback, GateError, type GateDeployment, type GateProject } from "../../src/domain/gates.js";

const project: GateProject = { id: "prj_1", liveDeploymentId: "dep_live", isRolledBack: false, productionEnvironmentId: "env_prod" };
const deployment = (id: string, over: Partial<GateDeployment> = {}): GateDeployment => ({
  id,
  projectId: "prj_1",
  environmentId: "env_prod",
  status: "ready",
  ...over,
});

function gateCode(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    assert.ok(error instanceof GateError, String(error));
    return error.code;
  }
}

describe("promote gates", () => {
  const cases: [string, GateProject, GateDeployment, string][] = [
    ["a ready production deployment", project, deployment("dep_new"), "ok"],
    ["the first deployment of a project", { ...project, liveDeploymentId: null }, deployment("dep_new"), "ok"],
    ["a deployment of another project", project, deployment("dep_x", { projectId: "prj_2" }), "invalid_argument"],
    ["a preview deployment", project, deployment("dep_p", { environmentId: "env_preview" }), "failed_precondition"],
    ["a building deployment", project, deployment("dep_b", { status: "building" }), "failed_precondition"],
    ["a failed deployment", project, deployment("dep_f", { status: "failed" }), "failed_precondition"],
    ["the live deployment", project, deployment("dep_live"), "failed_precondition"],
  ];
  for (const [name, p, target, expected] of cases) {
    it(`${name} → ${expected}`, () => assert.equal(gateCode(() => checkPromote(p, target)), expected));
  }
  it("promoting the live deployment of a rolled-back project confirms the rollback", () => {
    assert.equal(checkPromote({ ...project, isRolledBack: true }, deployment("dep_live")), "confirm_rollback");
  });
});

describe("rollback gates", () => {
  const cases: [string, GateProject, GateDeployment, string | undefined, string][] = [
    ["an earlier ready deployment", project, deployment("dep_old"), undefined, "ok"],
    ["with the live deployment named as source", project, deployment("dep_old"), "dep_live", "ok"],
    ["with a stale source", project, deployment("dep_old"), "dep_other", "failed_precondition"],
    ["the live deployment itself", project, deployment("dep_live"), undefined, "failed_precondition"],
    ["a project without a live deployment", { ...project, liveDeploymentId: null }, deployment("dep_old"), undefined, "failed_precondition"],
    ["a deployment of another project", project, deployment("dep_x", { projectId: "prj_2" }), undefined, "invalid_argument"],
    ["a preview deployment", project, deployment("dep_p", { environmentId: "env_preview" }), undefined, "failed_precondition"],
    ["a failed deployment", project, deployment("dep_f", { status: "failed" }), undefined, "failed_precondition"],
  ];
  for (const [name, p, target, source, expected] of cases) {
    it(`${name} → ${expected}`, () => assert.equal(gateCode(() => checkRollback(p, target, source)), expected));
  }
});
