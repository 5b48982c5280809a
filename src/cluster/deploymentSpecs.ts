import type { Kysely } from "kysely";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { fromJson, type Database } from "../db/schema.js";

// What an agent runs for a deployment besides its desired status: ids, image, command, port, env
// and its health check. These never change once a deployment has a topology (the image is recorded before the
// topology is written), so a process looks each one up once and every watch stream shares it —
// a topology change costs one query per process, not one per stream. The env values are read
// here and never put in the change feed: only agents receive them.

export interface DeploymentSpec {
  deploymentId: string;
  workspaceId: string;
  projectId: string;
  environmentId: string;
  image: string;
  command: string[];
  port: number;
  env: Record<string, string>;
  healthCheckPath: string;
  /** How long an instance may take to pass its first health check; unset = the agent's default. */
  startupTimeout: Duration | undefined;
}

export class DeploymentSpecs {
  private readonly cache = new Map<string, Promise<DeploymentSpec | undefined>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly capacity = 2000,
  ) {}

  /** The deployment's spec, or undefined when the deployment no longer exists. */
  get(deploymentId: string): Promise<DeploymentSpec | undefined> {
    let spec = this.cache.get(deploymentId);
    if (!spec) {
      spec = this.load(deploymentId);
      // A failed or empty lookup is not kept: the next change asks again.
      spec.then((found) => found ?? this.cache.delete(deploymentId), () => this.cache.delete(deploymentId));
      this.cache.set(deploymentId, spec);
      if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    }
    return spec;
  }

  private async load(deploymentId: string): Promise<DeploymentSpec | undefined> {
    const row = await this.db
      .selectFrom("deployments")
      .select(["id", "workspace_id", "project_id", "environment_id", "image", "command", "port", "env", "health_check_path", "startup_timeout_ms"])
      .where("id", "=", deploymentId)
      .executeTakeFirst();
    return row ? specOf(row) : undefined;
  }
}

export function specOf(row: {
  id: string;
  workspace_id: string;
  project_id: string;
  environment_id: string;
  image: string | null;
  command: string | null;
  port: number | null;
  env: string | null;
  health_check_path: string | null;
  startup_timeout_ms: number | null;
}): DeploymentSpec {
  return {
    deploymentId: row.id,
    workspaceId: row.workspace_id,
    projectId: row.project_id,
    environmentId: row.environment_id,
    image: row.image ?? "",
    command: fromJson<string[]>(row.command) ?? [],
    port: row.port ?? 0,
    env: fromJson<Record<string, string>>(row.env) ?? {},
    healthCheckPath: row.health_check_path ?? "/",
    startupTimeout: row.startup_timeout_ms === null ? undefined : durationFromMs(row.startup_timeout_ms),
  };
}
