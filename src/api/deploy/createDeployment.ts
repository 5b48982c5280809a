import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { isDuplicateKey } from "../../db/errors.js";
import { newId } from "../../db/ids.js";
import { toJson, type Database } from "../../db/schema.js";
import { validateImageReference } from "../../domain/imageReference.js";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { type CreateDeploymentRequest, CreateDeploymentResponseSchema, type GitSource, type RuntimeSettings } from "../../gen/ctrl/v1/deploy_pb.js";
import { viaIngress } from "../../restate/ingress.js";
import { deploymentApi } from "../../../workflows/handles.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, findProject, findWorkspace, requireId } from "../tenancy.js";
import { environmentRef, textField } from "../validation.js";
import { scopedKey } from "../idempotency.js";
import { deploymentsToProto } from "./toProto.js";

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LIMITS = { envKeys: 200, envValue: 32 * 1024, envTotal: 256 * 1024, commandArgs: 64, commandArg: 4096, replicas: 20 };
const STARTUP_TIMEOUT_MS = { min: 1000, max: 3_600_000 };
/** Deployments of one project that may be in progress at once. */
export const MAX_IN_PROGRESS_PER_PROJECT = 20;

interface Runtime {
  replicas: number;
  healthCheckPath: string | null;
  startupTimeoutMs: number | null;
}

interface Source {
  image: string | null;
  command: string[];
  port: number;
  env: Record<string, string>;
  git: GitSource | undefined;
}

/**
 * Records the deployment (PENDING) and submits its workflow. Everything is validated before the
 * first write. A retry with the same idempotency key finds the row (UNIQUE(project_id,
 * idempotency_key)) and submits again, which Restate deduplicates by workflow key.
 */
export function createDeployment(deps: ApiDeps) {
  const { db } = deps;
  return async (req: CreateDeploymentRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    requireId("project_id", req.projectId);
    environmentRef("environment", req.environment);
    const source = validateSource(req, deps.config.prebuiltImageTemplate !== undefined || deps.config.build.registry !== undefined);
    const runtime = validateRuntime(req.runtime);
    const key = scopedKey(context, "create-deployment", req.idempotencyKey);
    const { tenantId } = principalOf(context);
    const workspace = await findWorkspace(db, tenantId, req.workspaceId);
    const project = await findProject(db, tenantId, req.projectId);
    if (project.workspace_id !== workspace.id) throw notFound("project", `${req.projectId} in workspace ${req.workspaceId}`);
    const environment = await db
      .selectFrom("environments")
      .select(["id", "slug"])
      .where("project_id", "=", project.id)
      .where((eb) => eb.or([eb("slug", "=", req.environment), eb("id", "=", req.environment)]))
      .executeTakeFirst();
    if (!environment) throw notFound("environment", `${req.environment.slice(0, 64)} in project ${project.id}`);

    let id = key ? await existingByKey(db, project.id, key) : undefined;
    if (!id) {
      await checkQuota(db, project.id);
      id = newId("dep");
      try {
        await db
          .insertInto("deployments")
          .values({
            id,
            workspace_id: workspace.id,
            project_id: project.id,
            environment_id: environment.id,
            status: "pending",
            image: source.image,
            command: source.command.length ? toJson(source.command) : null,
            port: source.port || null,
            env: toJson(source.env),
            replicas: runtime.replicas,
            health_check_path: runtime.healthCheckPath,
            startup_timeout_ms: runtime.startupTimeoutMs,
            git_sha: source.git?.sha.toLowerCase() || null,
            git_branch: source.git?.branch || null,
            git_message: source.git?.message || null,
            git_author: source.git?.author || null,
            git_repository: source.git?.repository || null,
            git_directory: source.git?.directory || null,
            idempotency_key: key ?? null,
          })
          .execute();
      } catch (error) {
        // A concurrent retry with the same key inserted first: use its row.
        if (!key || !isDuplicateKey(error)) throw error;
        id = (await existingByKey(db, project.id, key))!;
      }
    }
    const deploymentId = id;
    const submission = await viaIngress(() => deps.ingress.workflowClient(deploymentApi, deploymentId).workflowSubmit());
    await db.updateTable("deployments").set({ invocation_id: submission.invocationId }).where("id", "=", deploymentId).execute();
    const [deployment] = await deploymentsToProto(db, [await findDeployment(db, tenantId, deploymentId)]);
    return create(CreateDeploymentResponseSchema, { deployment });
  };
}

async function existingByKey(db: Kysely<Database>, projectId: string, key: string): Promise<string | undefined> {
  const row = await db.selectFrom("deployments").select("id").where("project_id", "=", projectId).where("idempotency_key", "=", key).executeTakeFirst();
  return row?.id;
}

async function checkQuota(db: Kysely<Database>, projectId: string) {
  const row = await db
    .selectFrom("deployments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("project_id", "=", projectId)
    .where("status", "in", ["pending", "building", "deploying", "network", "finalizing"])
    .executeTakeFirstOrThrow();
  if (Number(row.n) >= MAX_IN_PROGRESS_PER_PROJECT) {
    throw new ConnectError(`project already has ${MAX_IN_PROGRESS_PER_PROJECT} deployments in progress`, Code.ResourceExhausted);
  }
}

function validateSource(req: CreateDeploymentRequest, canBuildGit: boolean): Source {
  const source = req.source;
  if (source.case === undefined) throw invalidArgument("source", "is required: give an image or a git source");
  if (source.case === "image") {
    const image = source.value;
    const problem = validateImageReference(image.image);
    if (problem) throw invalidArgument("image.image", problem);
    validatePort("image.port", image.port);
    validateCommand("image.command", image.command);
    validateEnv("image.env", image.env);
    if (image.git) validateGit("image.git", image.git, false);
    return { image: image.image, command: image.command, port: image.port, env: image.env, git: image.git };
  }
  const git = source.value;
  validateGit("git", git, true);
  validatePort("git.port", git.port);
  validateEnv("git.env", git.env);
  if (!canBuildGit) {
    throw new ConnectError(
      "source: git sources need a build service; deploy a pre-built image, or configure SWITCHYARD_REGISTRY (builds from git) or SWITCHYARD_PREBUILT_IMAGE_TEMPLATE",
      Code.FailedPrecondition,
    );
  }
  return { image: null, command: [], port: git.port, env: git.env, git };
}

function validateRuntime(runtime: RuntimeSettings | undefined): Runtime {
  const replicas = runtime?.replicas || 1;
  if (replicas > LIMITS.replicas) throw invalidArgument("runtime.replicas", `at most ${LIMITS.replicas} instances per region`);
  const path = runtime?.healthCheckPath ?? "";
  if (path !== "" && (path.length > 255 || !/^\/[\x21-\x7e]*$/.test(path))) {
    throw invalidArgument("runtime.health_check_path", "must be an absolute path of at most 255 printable characters without spaces, e.g. /healthz");
  }
  let startupTimeoutMs: number | null = null;
  if (runtime?.startupTimeout) {
    startupTimeoutMs = durationMs(runtime.startupTimeout);
    if (!(startupTimeoutMs >= STARTUP_TIMEOUT_MS.min && startupTimeoutMs <= STARTUP_TIMEOUT_MS.max)) {
      throw invalidArgument("runtime.startup_timeout", "must be between 1 s and 1 h");
    }
  }
  return { replicas, healthCheckPath: path || null, startupTimeoutMs };
}

function validatePort(field: string, port: number) {
  if (port > 65535) throw invalidArgument(field, `${port} is not a TCP port (1-65535, or 0 for none)`);
}

function validateCommand(field: string, command: string[]) {
  if (command.length > LIMITS.commandArgs) throw invalidArgument(field, `at most ${LIMITS.commandArgs} arguments`);
  command.forEach((arg, i) => textField(`${field}[${i}]`, arg, LIMITS.commandArg));
}

function validateEnv(field: string, env: Record<string, string>) {
  const keys = Object.keys(env);
  if (keys.length > LIMITS.envKeys) throw invalidArgument(field, `at most ${LIMITS.envKeys} variables`);
  let total = 0;
  for (const key of keys) {
    if (!ENV_KEY.test(key) || key.length > 255) throw invalidArgument(`${field}[${key.slice(0, 40)}]`, "names must match [A-Za-z_][A-Za-z0-9_]*");
    const value = env[key]!;
    if (value.length > LIMITS.envValue) throw invalidArgument(`${field}[${key}]`, `values must be at most ${LIMITS.envValue} bytes`);
    // A NUL cannot reach a process environment (it ends the C string): refuse it here.
    if (value.includes("\u0000")) throw invalidArgument(`${field}[${key}]`, "values must not contain NUL characters");
    total += key.length + value.length;
  }
  if (total > LIMITS.envTotal) throw invalidArgument(field, `at most ${LIMITS.envTotal} bytes in all`);
}

function validateGit(field: string, git: GitSource, forBuild: boolean) {
  if (!/^[0-9a-fA-F]{7,40}$/.test(git.sha)) throw invalidArgument(`${field}.sha`, "must be 7-40 hexadecimal characters");
  if (git.branch !== "" && (git.branch.length > 255 || !/^[^\s~^:?*\[\\\x00-\x1f\x7f]+$/.test(git.branch) || git.branch.includes("..") || git.branch.startsWith("/") || git.branch.endsWith("/") || git.branch.endsWith(".lock"))) {
    throw invalidArgument(`${field}.branch`, "is not a valid git branch name");
  }
  textField(`${field}.message`, git.message.replace(/[\n\r\t]/g, " "), 4096);
  textField(`${field}.author`, git.author, 255);
  textField(`${field}.repository`, git.repository, 1024, forBuild);
  const directory = git.directory;
  if (directory !== "" && (directory.length > 255 || directory.startsWith("/") || directory.split("/").some((part) => part === ".." || part === "") || !/^[\x21-\x7e]+$/.test(directory))) {
    throw invalidArgument(`${field}.directory`, "must be a relative path inside the repository without .. (e.g. examples/hello), at most 255 printable characters");
  }
}
