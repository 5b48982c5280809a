import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.js";

/** The problems loadConfig reports for `env` (none when it loads). */
export function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  return [];
}
