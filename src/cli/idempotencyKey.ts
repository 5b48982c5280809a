import { createHash } from "node:crypto";

/** The CI run the command runs in (GitHub Actions, GitLab CI, Jenkins, Buildkite), or "" outside CI. */
function ciRunId(): string {
  return process.env.GITHUB_RUN_ID ?? process.env.CI_PIPELINE_ID ?? process.env.BUILD_ID ?? process.env.BUILDKITE_BUILD_ID ?? "";
}

/**
 * The idempotency key of a pipeline command that was given none: the same inputs in the same CI
 * run give the same key, so a retried step gets the first answer instead of acting twice.
 */
export function derivedIdempotencyKey(inputs: unknown[]): string {
  return `cli-${createHash("sha256").update(JSON.stringify([...inputs, ciRunId()])).digest("hex").slice(0, 32)}`;
}
