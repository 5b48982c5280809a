// Pure parts of the container support: image references split for the registry API, the limit a
// runtime refused lowered (and only that one), build settings checked with their variable's name.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildConfig } from "../../src/build/buildConfig.js";
import { parseReference } from "../../src/build/registryClient.js";
import { lowerLimit, ulimitFlags, type RuntimeFlags } from "../../src/containers/runtimeFlags.js";

describe("containers: pure rules", () => {
  it("parseReference splits host, repository, tag and digest the way registries do", () => {
    assert.deepEqual(parseReference("127.0.0.1:5000/acme/web:1.2"), { host: "127.0.0.1:5000", repository: "acme/web", tag: "1.2", digest: undefined });
    assert.deepEqual(parseReference("registry.example.com/web@sha256:" + "a".repeat(64)), { host: "registry.example.com", repository: "web", digest: "sha256:" + "a".repeat(64) });
    assert.equal(parseReference("acme/web:1").host, "docker.io", "a first component without a dot or port is not a host");
    assert.equal(parseReference("localhost/web").host, "localhost");
  });

  it("lowerLimit halves the limit runc named, keeps the other, and gives up at the floor", () => {
    const flags: RuntimeFlags = { global: [], limits: { nofile: { soft: 20000, hard: 20000 }, nproc: { soft: 96364, hard: 96364 } }, detail: "" };
    assert.equal(lowerLimit(flags, "error setting rlimits for ready process: error setting rlimit type 6: operation not permitted"), true);
    assert.deepEqual(ulimitFlags(flags), ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=48182:48182"]);
    assert.equal(lowerLimit(flags, "executable file not found"), false, "an unrelated failure is not retried");
    flags.limits.nofile = { soft: 1024, hard: 1024 };
    assert.equal(lowerLimit(flags, "error setting rlimit type 7"), false, "at the floor");
  });

  it("buildConfig names the variable of every bad setting", () => {
    const problems: string[] = [];
    buildConfig({ SWITCHYARD_REGISTRY: "http://registry.invalid", SWITCHYARD_BUILD_TIMEOUT: "soon", SWITCHYARD_BUILD_NETWORK: "bridge", SWITCHYARD_BUILD_ARGS: "=x", SWITCHYARD_REGISTRY_INSECURE: "maybe" }, problems);
    for (const name of ["SWITCHYARD_REGISTRY:", "SWITCHYARD_BUILD_TIMEOUT:", "SWITCHYARD_BUILD_NETWORK:", "SWITCHYARD_BUILD_ARGS:", "SWITCHYARD_REGISTRY_INSECURE:"]) {
      assert.ok(problems.some((p) => p.startsWith(name)), `${name} in ${JSON.stringify(problems)}`);
    }
    const ok: string[] = [];
    const config = buildConfig({ SWITCHYARD_REGISTRY: "127.0.0.1:5000", SWITCHYARD_REGISTRY_INSECURE: "true", SWITCHYARD_BUILD_ARGS: "NODE_IMAGE=localhost/n:20" }, ok);
    assert.deepEqual(ok, []);
    assert.deepEqual(config.registry, { host: "127.0.0.1:5000", insecure: true });
    assert.deepEqual(config.buildArgs, { NODE_IMAGE: "localhost/n:20" });
    assert.equal(config.network, "none", "builds have no network unless configured");
  });
});
