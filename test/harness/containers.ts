// Containers for tests, all offline and private to the test file: a docker-registry on a loopback
// port (data in a temp dir), a podman storage of the harness's own in which the local node base
// image (busybox-static + this machine's node) and the sample app's image are built and pushed.
// Agents get a storage of their own (startAgent({ podmanStorage })), so what they run is really
// pulled from the registry. stop() removes every container of the harness's storage and the dirs.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureNodeBaseImage, LOCAL_NODE_IMAGE } from "../../src/containers/baseImage.js";
import { Podman, storageFlags } from "../../src/containers/podman.js";
import { startRegistry, type Registry } from "../../src/containers/registry.js";
import { findBinary, repoRoot } from "./binaries.js";
import { freePort } from "./ports.js";
import { makeTempDir, removeTempDir } from "./process.js";

export interface ContainerEnv {
  registry: Registry;
  /** The harness's own podman (its storage holds the base image and what it built). */
  podman: Podman;
  storageDir: string;
  nodeImage: string;
  /** Builds examples/hello (or `contextDir`) as <registry>/<repository>:<tag>, pushes it, returns `<registry>/<repository>@sha256:…`. */
  pushImage(repository: string, tag: string, contextDir?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startContainerEnv(): Promise<ContainerEnv> {
  const baseDir = await makeTempDir("containers");
  const registry = await startRegistry({ dir: path.join(baseDir, "registry"), port: await freePort() });
  const storageDir = path.join(baseDir, "podman");
  const podman = new Podman({ storageDir, insecureRegistries: [registry.host] });
  try {
    const nodeImage = await ensureNodeBaseImage(podman, baseDir);
    return {
      registry,
      podman,
      storageDir,
      nodeImage,
      async pushImage(repository, tag, contextDir = path.join(repoRoot, "examples", "hello")) {
        const reference = `${registry.host}/${repository}:${tag}`;
        const built = await podman.runLimited((limits) => ["build", "--network", "none", "--build-arg", `NODE_IMAGE=${LOCAL_NODE_IMAGE}`, ...limits, "-t", reference, contextDir], { timeoutMs: 120_000 });
        if (built.code !== 0) throw new Error(`podman build of ${contextDir}: ${built.stderr.slice(-2000)}`);
        const digestFile = path.join(baseDir, `digest-${Date.now()}`);
        await podman.ok(["push", "--tls-verify=false", "--digestfile", digestFile, reference], { timeoutMs: 120_000 });
        const digest = fs.readFileSync(digestFile, "utf8").trim();
        return `${registry.host}/${repository}@${digest}`;
      },
      async stop() {
        removeAllContainers(storageDir);
        resetStorage(storageDir);
        await registry.stop().catch(() => undefined);
        await removeTempDir(baseDir);
      },
    };
  } catch (error) {
    await registry.stop().catch(() => undefined);
    throw error;
  }
}

/** Every container of a private podman storage (the harness's or an agent's): all of them are the test's. */
export function removeAllContainers(storageDir: string): void {
  const podman = findBinary("podman");
  if (!podman || !fs.existsSync(path.join(storageDir, "storage"))) return;
  try {
    execFileSync(podman, [...storageFlags(storageDir), "rm", "--all", "--force", "--time", "0"], { stdio: "ignore", timeout: 60_000 });
  } catch {
    // Nothing to remove, or podman already gone: the temp dir goes anyway.
  }
}

/** Empties a private podman storage (containers, builds' working containers, images) and unmounts what is left under it. */
export function resetStorage(storageDir: string): void {
  const podman = findBinary("podman");
  if (podman && fs.existsSync(path.join(storageDir, "storage"))) {
    try {
      execFileSync(podman, [...storageFlags(storageDir), "system", "reset", "--force"], { stdio: "ignore", timeout: 120_000 });
    } catch {
      // What podman could not remove is unmounted below and removed with the temp dir.
    }
  }
  const runroot = storageFlags(storageDir)[3]!;
  const mounts = fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mount) => mount.startsWith(`${storageDir}/`) || mount.startsWith(`${runroot}/`))
    .sort((a, b) => b.length - a.length);
  for (const mount of mounts) {
    try {
      execFileSync("umount", ["--lazy", mount], { stdio: "ignore", timeout: 10_000 });
    } catch {
      // Already gone.
    }
  }
  fs.rmSync(runroot, { recursive: true, force: true });
}

/** The containers running in a private podman storage, with their labels (for assertions). */
export function runningContainers(storageDir: string): { name: string; labels: Record<string, string> }[] {
  const podman = findBinary("podman")!;
  const out = execFileSync(podman, [...storageFlags(storageDir), "ps", "--format", "json"], { encoding: "utf8", timeout: 30_000 });
  return (JSON.parse(out || "[]") as { Names: string[]; Labels: Record<string, string> | null }[]).map((c) => ({ name: c.Names[0]!, labels: c.Labels ?? {} }));
}
