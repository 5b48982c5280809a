import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateHostnames } from "../../src/domain/generatedHostnames.js";
import { isLocalHostname } from "../../src/domain/localHostnames.js";
import { slugify } from "../../src/domain/slug.js";

const base = {
  apex: "switchyard.app",
  workspaceSlug: "acme",
  projectSlug: "web",
  environmentSlug: "production",
  isProduction: true,
  deploymentId: "dep_01jd2x3y4z5a6b7c8d9e0f1g2h",
};

describe("generated hostnames", () => {
  it("gives each sticky level its hostname, live only in production", () => {
    const names = generateHostnames({ ...base, gitSha: "ABCDEF1234567", gitBranch: "main" });
    assert.deepEqual(
      names.map((n) => [n.sticky, n.hostname]),
      [
        ["commit", "web-8d9e0f1g2h-acme.switchyard.app"],
        ["commit", "web-git-abcdef1-acme.switchyard.app"],
        ["branch", "web-git-main-acme.switchyard.app"],
        ["environment", "web-env-production-acme.switchyard.app"],
        ["live", "web-acme.switchyard.app"],
      ],
    );
    const preview = generateHostnames({ ...base, environmentSlug: "preview", isProduction: false });
    assert.equal(preview.some((n) => n.sticky === "live"), false);
    assert.equal(preview.find((n) => n.sticky === "environment")?.hostname, "web-env-preview-acme.switchyard.app");
  });

  it("slugs branches deterministically and keeps every label within 63 characters", () => {
    assert.equal(slugify("Feature/Ünïcode__Branch!!"), "feature-unicode-branch");
    const long = "feature/" + "x".repeat(120);
    const a = generateHostnames({ ...base, gitBranch: long });
    const b = generateHostnames({ ...base, gitBranch: long });
    assert.deepEqual(a, b);
    const c = generateHostnames({ ...base, gitBranch: long + "y" });
    const branchOf = (list: typeof a) => list.find((n) => n.sticky === "branch")!.hostname;
    assert.notEqual(branchOf(a), branchOf(c), "distinct long branches stay distinct after truncation");
    for (const { hostname } of [...a, ...c]) {
      for (const label of hostname.split(".")) {
        assert.ok(label.length <= 63, `${label} is ${label.length} characters`);
        assert.match(label, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
      }
    }
  });
});

describe("local hostname filter", () => {
  const apex = "switchyard.app";
  for (const host of ["app.local", "api.test", "localhost", "web.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"]) {
    it(`filters ${host}`, () => assert.equal(isLocalHostname(host, apex), true));
  }
  for (const host of ["example.com", "127.example.com", "local.example.com", "web-acme.switchyard.app", "testing.dev"]) {
    it(`keeps ${host}`, () => assert.equal(isLocalHostname(host, apex), false));
  }
  it("keeps local names under a local platform apex", () => {
    assert.equal(isLocalHostname("web-acme.apps.localhost", "apps.localhost"), false);
  });
});
