/**
 * Turns a deployment's source into a runnable image. The Deployment workflow runs its "building"
 * phase as the named stages stages() lists (each one durable step with its own log tail), and pins
 * a pre-built image to its digest with resolve(). Two implementations: PrebuiltImageBuildService
 * (images CI already pushed) and ContainerBuildService (git → Containerfile → push, podman); a
 * remote builder (BuildKit, Depot, …) plugs in behind the same interface.
 */
export interface BuildRequest {
  deploymentId: string;
  workspaceSlug: string;
  projectSlug: string;
  image: string | null;
  git: { sha: string; branch: string | null; repository: string | null; directory?: string | null } | null;
}

export interface StageResult {
  /** The stage's log tail, for the deployment's build step. */
  log: string;
  /** The image to run, set by the last stage. */
  image?: string;
}

/** The source cannot be built (bad source, a failing Containerfile): final, never retried. */
export class BuildError extends Error {
  override name = "BuildError";
  constructor(
    message: string,
    /** The stage's own log tail (the build's error lines). */
    readonly logTail = "",
  ) {
    super(message);
  }
}

export interface BuildService {
  /** The stages a git source goes through, in order (e.g. fetch, build, push). */
  stages(request: BuildRequest): string[];
  /** Runs one stage; `signal` aborts it (the deployment was cancelled, the attempt ended). */
  runStage(stage: string, request: BuildRequest, signal: AbortSignal): Promise<StageResult>;
  /** A pre-built image as it will run: pinned to its digest when the image is in the configured registry. */
  resolve(image: string): Promise<StageResult & { image: string }>;
}
