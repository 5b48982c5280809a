// Builds from git with podman, pushed to the configured registry:
//
//   fetch   git clone <repository> <work>/<deployment>/src, checkout <sha>   (bounded in time)
//   build   podman build --network none --layers -f Containerfile|Dockerfile
//             -t <registry>/<workspace>/<project>:<sha>   (layers cached in the builder's storage)
//   push    podman push --digestfile → <registry>/<workspace>/<project>@sha256:…  (what agents run)
//
// Each stage is bounded (SWITCHYARD_BUILD_TIMEOUT) and its log too (SWITCHYARD_BUILD_LOG_MAX:
// <work>/<deployment>/<stage>.log keeps the first bytes, the step keeps the last lines); the
// signal (a cancelled deployment) kills the stage's process group. A stage may run again after a
// crash: fetch starts from a clean directory, build fetches again when the checkout is gone.
//
// Sources: https:// repositories whose host resolves to public addresses (or to the operator's
// SWITCHYARD_OUTBOUND_ALLOWED_RANGES), and local paths or file:// URLs only inside
// SWITCHYARD_BUILD_LOCAL_SOURCES — a tenant never reads the server's disk or internal network.

import { spawn } from "node:child_process";
import dns from "node:dns/promises";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { judgeAddress, type AddressRanges } from "../domain/addressRanges.js";
import { findBinary } from "../dev/binaries.js";
import { lastLines, Podman } from "../containers/podman.js";
import type { BuildConfig } from "./buildConfig.js";
import { BuildError, type BuildRequest, type BuildService, type StageResult } from "./buildService.js";
import { PrebuiltImageBuildService } from "./prebuiltImages.js";

const TAIL_LINES = 30;
const CONTAINERFILES = ["Containerfile", "Dockerfile"];

export class ContainerBuildService implements BuildService {
  private readonly podman: Podman;
  private readonly registry: NonNullable<BuildConfig["registry"]>;
  private readonly prebuilt: PrebuiltImageBuildService;

  constructor(
    private readonly config: BuildConfig,
    private readonly outboundAllowedRanges: AddressRanges,
    prebuiltImageTemplate: string | undefined,
  ) {
    if (!config.registry) throw new Error("ContainerBuildService needs SWITCHYARD_REGISTRY");
    this.registry = config.registry;
    this.podman = new Podman({ storageDir: config.podmanStorage, insecureRegistries: config.registry.insecure ? [config.registry.host] : [] });
    this.prebuilt = new PrebuiltImageBuildService(prebuiltImageTemplate, config.registry);
  }

  stages(request: BuildRequest): string[] {
    // Provenance only (no repository to build from): CI pushed it; the template finds it.
    return request.git?.repository ? ["fetch", "build", "push"] : this.prebuilt.stages();
  }

  resolve(image: string): Promise<StageResult & { image: string }> {
    return this.prebuilt.resolve(image);
  }

  async runStage(stage: string, request: BuildRequest, signal: AbortSignal): Promise<StageResult> {
    if (!request.git?.repository) return this.prebuilt.runStage(stage, request);
    const dirs = this.dirsOf(request);
    await fs.promises.mkdir(dirs.root, { recursive: true, mode: 0o700 });
    if (stage === "fetch") return this.fetch(request, dirs, signal);
    if (stage === "build") {
      if (!fs.existsSync(path.join(dirs.src, ".git"))) await this.fetch(request, dirs, signal);
      return this.build(request, dirs, signal);
    }
    if (stage === "push") return this.push(request, dirs, signal);
    throw new BuildError(`unknown build stage ${stage}`);
  }

  /** `<registry>/<workspace>/<project>:<sha>`. */
  tagOf(request: BuildRequest): string {
    return `${this.registry.host}/${request.workspaceSlug}/${request.projectSlug}:${request.git!.sha}`;
  }

  private dirsOf(request: BuildRequest) {
    const root = path.join(this.config.workDir, request.deploymentId);
    return { root, src: path.join(root, "src") };
  }

  private async fetch(request: BuildRequest, dirs: { root: string; src: string }, signal: AbortSignal): Promise<StageResult> {
    const source = await this.checkedSource(request.git!.repository!);
    await fs.promises.rm(dirs.src, { recursive: true, force: true });
    const log = new StageLog(path.join(dirs.root, "fetch.log"), this.config.logMaxBytes);
    const git = findBinary("git");
    if (!git) throw new Error("git not found: apt-get install git");
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: dirs.root };
    const run = (args: string[], cwd?: string) => runBounded(git, args, { cwd, env, signal, timeoutMs: this.config.stageTimeoutMs, log });
    // No hooks, no submodules, no local-path shortcuts beyond the allowed source: a plain clone.
    const cloned = await run(["-c", "protocol.file.allow=always", "clone", "--no-checkout", "--quiet", source, dirs.src]);
    if (cloned !== 0) throw new BuildError(`fetch: git clone of ${request.git!.repository} failed`, log.tail(TAIL_LINES));
    const checkout = await run(["-c", "advice.detachedHead=false", "checkout", "--quiet", request.git!.sha], dirs.src);
    if (checkout !== 0) throw new BuildError(`fetch: commit ${request.git!.sha} is not in ${request.git!.repository}`, log.tail(TAIL_LINES));
    const { stdout: head } = await capture(git, ["rev-parse", "HEAD"], dirs.src);
    log.write(`checked out ${head.trim()}\n`);
    await log.close();
    return { log: log.tail(TAIL_LINES) };
  }

  private async build(request: BuildRequest, dirs: { root: string; src: string }, signal: AbortSignal): Promise<StageResult> {
    const directory = request.git!.directory || "";
    const context = await fs.promises.realpath(path.join(dirs.src, directory)).catch(() => undefined);
    const root = await fs.promises.realpath(dirs.src);
    // A symlink in the repository must not lead the build outside its checkout.
    if (!context || (context !== root && !context.startsWith(`${root}${path.sep}`))) throw new BuildError(`build: the repository has no directory ${directory}`);
    const file = CONTAINERFILES.find((name) => fs.existsSync(path.join(context, name)));
    if (!file) throw new BuildError(`build: the repository has no ${CONTAINERFILES.join(" or ")} in ${directory || "its root"}`);
    const log = new StageLog(path.join(dirs.root, "build.log"), this.config.logMaxBytes);
    const args = (limits: string[]) => [
      "build",
      "--layers",
      "--network",
      this.config.network,
      ...limits,
      ...Object.entries(this.config.buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
      "--label",
      `switchyard.deployment=${request.deploymentId}`,
      "-f",
      path.join(context, file),
      "-t",
      this.tagOf(request),
      context,
    ];
    const result = await this.podman.runLimited(args, { timeoutMs: this.config.stageTimeoutMs, signal, onOutput: (chunk) => log.write(chunk) });
    await log.close();
    if (signal.aborted) throw new Error("build: stopped (the deployment was cancelled)");
    if (result.timedOut) throw new BuildError(`build: did not finish within ${Math.round(this.config.stageTimeoutMs / 1000)} s`, log.tail(TAIL_LINES));
    if (result.code !== 0) throw new BuildError(`build: podman build failed:\n${errorLines(log.tail(TAIL_LINES))}`, log.tail(TAIL_LINES));
    // The checkout is not needed any more: only the image (and its cached layers) stays.
    await fs.promises.rm(dirs.src, { recursive: true, force: true });
    return { log: log.tail(TAIL_LINES) };
  }

  private async push(request: BuildRequest, dirs: { root: string }, signal: AbortSignal): Promise<StageResult> {
    const tag = this.tagOf(request);
    if ((await this.podman.run(["image", "exists", tag])).code !== 0) {
      throw new Error(`push: ${tag} is not in the builder's storage (built on another replica?); the build stage runs again on retry`);
    }
    const log = new StageLog(path.join(dirs.root, "push.log"), this.config.logMaxBytes);
    const digestFile = path.join(dirs.root, "digest");
    const result = await this.podman.run(["push", ...this.podman.tlsFlags(tag), "--digestfile", digestFile, tag], { timeoutMs: this.config.stageTimeoutMs, signal, onOutput: (chunk) => log.write(chunk) });
    await log.close();
    // A registry that is down heals: infrastructure, retried by Restate.
    if (result.code !== 0) throw new Error(`push: podman push failed: ${lastLines(result.stderr, 5)}`);
    const digest = (await fs.promises.readFile(digestFile, "utf8")).trim();
    const image = `${this.registry.host}/${request.workspaceSlug}/${request.projectSlug}@${digest}`;
    log.lines.push(`pushed ${tag} as ${image}`);
    return { log: log.tail(TAIL_LINES), image };
  }

  /** The repository as git may fetch it, or a BuildError naming why not. */
  private async checkedSource(repository: string): Promise<string> {
    if (repository.startsWith("https://")) {
      const { hostname } = new URL(repository);
      const addresses = await dns.lookup(hostname.replace(/^\[|\]$/g, ""), { all: true }).catch(() => []);
      if (addresses.length === 0) throw new BuildError(`fetch: the repository host ${hostname} does not resolve`);
      if (addresses.some((a) => !judgeAddress(a.address, this.outboundAllowedRanges).allowed)) {
        throw new BuildError("fetch: the repository resolves to an address this platform does not connect to (not a public address)");
      }
      return repository;
    }
    const local = repository.startsWith("file://") ? fileURLToPath(repository) : path.isAbsolute(repository) ? repository : undefined;
    if (!local) throw new BuildError(`git.repository: "${repository}" is neither an https:// URL nor an allowed local repository`);
    const real = await fs.promises.realpath(local).catch(() => undefined);
    if (!real || !this.config.localSources.some((dir) => real === dir || real.startsWith(`${dir}${path.sep}`))) {
      throw new BuildError(`git.repository: "${repository}" is not a repository this platform may build (local sources must be under SWITCHYARD_BUILD_LOCAL_SOURCES)`);
    }
    return `file://${real}`;
  }
}

/** The lines of a failed build worth reading first: podman's own error and the failing step's output. */
function errorLines(tail: string): string {
  return lastLines(tail, 12);
}

/** A stage's log: the first `maxBytes` bytes in a file, the last lines in memory. */
class StageLog {
  readonly lines: string[] = [];
  private partial = "";
  private written = 0;
  private readonly stream: fs.WriteStream;

  constructor(
    file: string,
    private readonly maxBytes: number,
  ) {
    this.stream = fs.createWriteStream(file, { flags: "w", mode: 0o600 });
  }

  write(chunk: string): void {
    if (this.written < this.maxBytes) {
      const part = chunk.slice(0, this.maxBytes - this.written);
      this.stream.write(part);
      this.written += Buffer.byteLength(part);
      if (this.written >= this.maxBytes) this.stream.write("\n[log truncated at SWITCHYARD_BUILD_LOG_MAX]\n");
    }
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts.map((line) => line.slice(0, 1000)));
    if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
  }

  tail(count: number): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].slice(-count).join("\n");
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

function runBounded(
  command: string,
  args: string[],
  opts: { cwd?: string; env: NodeJS.ProcessEnv; signal: AbortSignal; timeoutMs: number; log: StageLog },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
    };
    const timer = setTimeout(() => {
      opts.log.write(`\n[stopped after ${Math.round(opts.timeoutMs / 1000)} s]\n`);
      kill();
    }, opts.timeoutMs);
    opts.signal.addEventListener("abort", kill, { once: true });
    child.stdout.setEncoding("utf8").on("data", (c: string) => opts.log.write(c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => opts.log.write(c));
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      opts.signal.removeEventListener("abort", kill);
      if (opts.signal.aborted) reject(new Error("stopped (the deployment was cancelled)"));
      else resolve(code ?? 1);
    });
  });
}

function capture(command: string, args: string[], cwd: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.once("error", reject);
    child.once("close", () => resolve({ stdout }));
  });
}
