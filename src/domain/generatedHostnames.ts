import { joinLabel, slugify } from "./slug.js";

/** How a generated hostname follows new deployments (seeds 001/004). */
export type StickyLevel = "commit" | "branch" | "environment" | "live";

export interface GeneratedHostname {
  hostname: string;
  sticky: StickyLevel;
}

export interface HostnameInput {
  apex: string;
  workspaceSlug: string;
  projectSlug: string;
  environmentSlug: string;
  isProduction: boolean;
  deploymentId: string;
  gitSha?: string;
  gitBranch?: string;
}

/**
 * The hostnames a deployment gets on the platform apex:
 * - `<project>-<deployment suffix>-<workspace>`: this deployment forever (sticky "commit": never moves);
 * - `<project>-git-<sha7>-<workspace>`: this commit (sticky "commit": never moves);
 * - `<project>-git-<branch>-<workspace>`: the newest deployment of the branch;
 * - `<project>-env-<environment>-<workspace>`: the environment's current deployment;
 * - `<project>-<workspace>`: the live deployment (production only).
 */
export function generateHostnames(input: HostnameInput): GeneratedHostname[] {
  const { apex, workspaceSlug: ws, projectSlug: project } = input;
  const at = (label: string) => `${label}.${apex}`;
  const result: GeneratedHostname[] = [];
  const deploymentSuffix = slugify(input.deploymentId.replace(/^[a-z]+_/, "")).slice(-10);
  result.push({ hostname: at(joinLabel([project, deploymentSuffix, ws], 0)), sticky: "commit" });
  if (input.gitSha) {
    result.push({ hostname: at(joinLabel([project, "git", input.gitSha.toLowerCase().slice(0, 7), ws], 0)), sticky: "commit" });
  }
  if (input.gitBranch) {
    const branch = slugify(input.gitBranch) || "branch";
    result.push({ hostname: at(joinLabel([project, "git", branch, ws], 2)), sticky: "branch" });
  }
  result.push({ hostname: at(joinLabel([project, "env", input.environmentSlug, ws], 3)), sticky: "environment" });
  if (input.isProduction) {
    result.push({ hostname: at(joinLabel([project, ws], 0)), sticky: "live" });
  }
  return result;
}
