// How the harness runs the `switchyard` command (serve, agent, gateway): this Node, through tsx,
// from the repo's sources — the way bin/switchyard.mjs runs it.
import path from "node:path";

export function switchyardArgs(...commandArgs: string[]): string[] {
  return ["--import", "tsx", path.join("src", "main.ts"), ...commandArgs];
}

/**
 * How long such a process may take to come up. Loading the code costs about 2.5 s of CPU on an
 * idle core; with two test files starting their stacks at once on a 2-core machine that grows
 * many times over (CI once saw a switchyard print nothing in 30 s), so the bound is generous —
 * a process that is up sooner is waited for no longer.
 */
export const SWITCHYARD_START_TIMEOUT_MS = 60_000;
