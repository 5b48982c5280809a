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
  result.push({ hostname: at(environmentLabel(project, input.environmentSlug, ws)), sticky: "environment" });
  if (input.isProduction) {
    result.push({ hostname: at(liveLabel(project, ws)), sticky: "live" });
  }
  return result;
}

const liveLabel = (project: string, ws: string) => joinLabel([project, ws], 0);
const environmentLabel = (project: string, environment: string, ws: string) => joinLabel([project, "env", environment, ws], 3);

/**
 * The labels (under the platform apex) a project holds from its creation on, whatever it
 * deploys: its live hostname's and each environment's. They are reserved for it so that no other
 * project — whose slugs may join up to the same label — can take them before its first deploy.
 */
export function generatedLabels(input: { workspaceSlug: string; projectSlug: string; environmentSlugs: readonly string[] }): string[] {
  const { projectSlug: project, workspaceSlug: ws } = input;
  return [liveLabel(project, ws), ...input.environmentSlugs.map((environment) => environmentLabel(project, environment, ws))];
}

/** The label of a hostname directly under the apex (`<label>.<apex>`), or undefined. */
export function labelUnderApex(hostname: string, apex: string): string | undefined {
  if (!hostname.endsWith(`.${apex}`)) return undefined;
  const label = hostname.slice(0, -(apex.length + 1));
  return label !== "" && !label.includes(".") ? label : undefined;
}
