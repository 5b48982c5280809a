import { BuildError, type BuildRequest, type BuildService, type StageResult } from "./buildService.js";
import { resolveDigest, parseReference, type RegistrySettings } from "./registryClient.js";
import { validateImageReference } from "../domain/imageReference.js";

/**
 * Takes images that CI already built and pushed. A deployment with an image uses it (pinned to
 * its digest when it lives in the configured registry); a git-only deployment resolves its image
 * from a template such as `registry.example.com/{workspace}/{project}:{sha}`
 * (SWITCHYARD_PREBUILT_IMAGE_TEMPLATE) in one stage, "resolve".
 */
export class PrebuiltImageBuildService implements BuildService {
  constructor(
    private readonly template: string | undefined,
    private readonly registry?: RegistrySettings,
  ) {}

  stages(): string[] {
    return ["resolve"];
  }

  async runStage(_stage: string, request: BuildRequest): Promise<StageResult> {
    if (!request.git) throw new BuildError("deployment has neither an image nor git metadata");
    if (!this.template) {
      throw new BuildError(
        "git deployments need an image: set SWITCHYARD_PREBUILT_IMAGE_TEMPLATE (e.g. registry.example.com/{workspace}/{project}:{sha}) or SWITCHYARD_REGISTRY (builds from git), or deploy with --image",
      );
    }
    const image = this.template
      .replaceAll("{workspace}", request.workspaceSlug)
      .replaceAll("{project}", request.projectSlug)
      .replaceAll("{sha}", request.git.sha);
    const problem = validateImageReference(image);
    if (problem) throw new BuildError(`image template produced an invalid reference "${image}": ${problem}`);
    const resolved = await this.resolve(image);
    return { image: resolved.image, log: `resolved pre-built image ${image} for commit ${request.git.sha}${resolved.image !== image ? ` to ${resolved.image}` : ""}` };
  }

  async resolve(image: string): Promise<StageResult & { image: string }> {
    if (!this.registry || parseReference(image).host !== this.registry.host) return { image, log: `using pre-built image ${image}` };
    const pinned = await resolveDigest(this.registry, image);
    return { image: pinned, log: `pre-built image ${image} is ${pinned}` };
  }
}
