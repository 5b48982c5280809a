/**
 * Turns a deployment's source into a runnable image. The Deployment workflow calls it in its
 * "building" phase; the shipped implementation takes pre-built images, and a remote builder
 * (BuildKit, Depot, …) plugs in behind the same interface.
 */
export interface BuildRequest {
  deploymentId: string;
  workspaceSlug: string;
  projectSlug: string;
  image: string | null;
  git: { sha: string; branch: string | null; repository: string | null } | null;
}

export interface BuildResult {
  image: string;
  /** One line for the deployment's building step. */
  log: string;
}

export class BuildError extends Error {
  override name = "BuildError";
}

export interface BuildService {
  build(request: BuildRequest): Promise<BuildResult>;
}
