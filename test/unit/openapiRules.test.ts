// Pure rules of the OpenAPI feature: the spec path a project may set, what a scraped document's
// problems are (never fetching anything), and the API gate's verdicts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBreakingChanges, GateError } from "../../src/domain/gates.js";
import { specPathProblem } from "../../src/domain/specPath.js";
import { analyseDocument, detectContentType, externalRefs, isBlocking } from "../../src/openapi/document.js";

const MINIMAL = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n";

describe("spec path", () => {
  it("accepts absolute paths, refuses the rest with a reason", () => {
    for (const ok of ["/openapi.yaml", "/api/v1/openapi.json", "/openapi.yaml?format=yaml"]) assert.equal(specPathProblem(ok), undefined, ok);
    for (const bad of ["openapi.yaml", "", "//host/x", "/a b", "/x#y", "/x\\y", `/${"a".repeat(255)}`, "/é"]) assert.ok(specPathProblem(bad), bad);
  });
});

describe("scraped documents", () => {
  it("a valid document has no problems; its format is told by the header, else by its first character", async () => {
    const analysed = await analyseDocument(MINIMAL, "application/yaml");
    assert.deepEqual(analysed.problems, []);
    assert.match(analysed.hash, /^[0-9a-f]{64}$/);
    assert.equal(detectContentType('{"openapi":"3.0.3"}', undefined), "application/json");
    assert.equal(detectContentType("openapi: 3.0.3", "text/plain"), "application/yaml");
    assert.equal(detectContentType("openapi: 3.0.3", "application/json; charset=utf-8"), "application/json");
  });

  it("broken YAML, a Swagger 2 document, a schema violation", async () => {
    const broken = await analyseDocument("openapi: [\n", undefined);
    assert.equal(broken.problems[0]?.kind, "syntax");
    assert.ok(isBlocking(broken.problems[0]!));
    const swagger = await analyseDocument("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n");
    assert.equal(swagger.problems[0]?.kind, "not_openapi3");
    const invalid = await analyseDocument("openapi: 3.0.3\ninfo: {version: '1'}\npaths: {}\n");
    assert.equal(invalid.problems[0]?.kind, "schema");
    assert.match(invalid.problems[0]!.message, /title/);
    assert.equal(isBlocking(invalid.problems[0]!), false, "a schema problem still lets it be diffed");
  });

  it("external $refs are reported, internal ones are not, and nothing is fetched (an unroutable address would hang)", async () => {
    const doc = `${MINIMAL.replace("paths: {}", "paths:\n  /x:\n    get:\n      responses:\n        '200':\n          $ref: 'http://192.0.2.1/r.yaml'\n  /y:\n    $ref: 'other.yaml#/paths/y'")}`;
    const started = Date.now();
    const analysed = await analyseDocument(doc);
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(analysed.problems.filter((p) => p.kind === "external_ref").map((p) => p.message.split(": ")[1]).sort(), ["http://192.0.2.1/r.yaml", "other.yaml#/paths/y"]);
    assert.deepEqual(externalRefs({ a: { $ref: "#/components/schemas/A" } }), []);
  });

  it("a YAML alias bomb is refused by the parser, not expanded", async () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    const analysed = await analyseDocument(bomb);
    assert.equal(analysed.problems[0]?.kind, "syntax");
  });
});

describe("API gate", () => {
  const change = (id: string) => ({ id, method: "GET", path: "/x", message: `${id} happened` });
  it("allow passes, warn reports, block refuses naming the changes unless overridden", () => {
    const breaking = [change("api-path-removed-without-deprecation"), change("new-required-request-parameter")];
    assert.deepEqual(checkBreakingChanges("allow", { id: "dep_b" }, "dep_a", breaking, false), { kind: "pass" });
    assert.equal(checkBreakingChanges("warn", { id: "dep_b" }, "dep_a", breaking, false).kind, "warn");
    assert.throws(
      () => checkBreakingChanges("block", { id: "dep_b" }, "dep_a", breaking, false),
      (error: unknown) =>
        error instanceof GateError &&
        error.code === "failed_precondition" &&
        /dep_b has 2 breaking API change\(s\) against live deployment dep_a/.test(error.message) &&
        error.message.includes("GET /x: api-path-removed-without-deprecation happened [api-path-removed-without-deprecation]"),
    );
    assert.equal(checkBreakingChanges("block", { id: "dep_b" }, "dep_a", breaking, true).kind, "warn");
    assert.deepEqual(checkBreakingChanges("block", { id: "dep_b" }, "dep_a", [], false), { kind: "pass" });
  });

  it("a long list is cut after 20, counting the rest", () => {
    const many = Array.from({ length: 120 }, (_, i) => change(`c${i}`));
    assert.throws(() => checkBreakingChanges("block", { id: "d" }, "l", many.slice(0, 100), false, 120), /and 100 more$/);
  });
});
