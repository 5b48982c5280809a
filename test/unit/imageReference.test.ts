import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateImageReference } from "../../src/domain/imageReference.js";

describe("image references", () => {
  for (const ok of [
    "nginx",
    "nginx:1.27",
    "library/nginx:latest",
    "registry.example.com/team/app:1.2.3",
    "registry.example.com:5000/team/app",
    `app@sha256:${"a".repeat(64)}`,
    `ghcr.io/org/app:v1@sha256:${"0".repeat(64)}`,
  ]) {
    it(`accepts ${ok.slice(0, 50)}`, () => assert.equal(validateImageReference(ok), undefined));
  }
  for (const [bad, problem] of [
    ["", /empty/],
    ["UPPER/case", /not an image reference/],
    ["a b", /whitespace/],
    [":tag", /not an image reference/],
    ["x@sha256:123", /not an image reference/],
    ["app:", /not an image reference/],
    [`app:${"t".repeat(129)}`, /not an image reference/],
    ["x".repeat(600), /at most 512/],
  ] as const) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () => assert.match(validateImageReference(bad) ?? "", problem));
  }
});
