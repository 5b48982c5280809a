import { BuildError, type BuildRequest, type BuildResult, type BuildService } from "./buildService.js";
import { validateImageReference } from "../domain/imageReference.js";

/**
 * The shipped builder: takes images that CI already built and pushed. A deployment with an
 * image uses it as is; a git-only deployment resolves its image from a template such as
 * `registry.example.com/{workspace}/{project}:{sha}` (SWITCHYARD_PREBUILT_IMAGE_TEMPLATE).
 */
export class PrebuiltImageBuildService implements BuildService {
  constructor(private readonly template: string | undefined) {}

  async build(request: BuildRequest): Promise<BuildResult> {
    if (request.image) return { image: request.image, log: `using pre-built image ${request.image}` };
    if (!request.git) throw new BuildError("deployment has neither an image nor git metadata");
    if (!this.template) {
      throw new BuildError(
        "git deployments need an image: set SWITCHYARD_PREBUILT_IMAGE_TEMPLATE (e.g. registry.example.com/{workspace}/{project}:{sha}) or deploy with --image",
      );
    }
    const image = this.template
      .replaceAll("{workspace}", request.workspaceSlug)
      .replaceAll("{project}", request.projectSlug)
      .replaceAll("{sha}", request.git.sha);
    const problem = validateImageReference(image);
    if (problem) throw new BuildError(`image template produced an invalid reference "${image}": ${problem}`);
    return { image, log: `resolved pre-built image ${image} for commit ${request.git.sha}` };
  }
}
