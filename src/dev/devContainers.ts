// The dev stack's containers, when podman and docker-registry are installed (or
// SWITCHYARD_DEV_DRIVER=container): a private registry on loopback with its data under
// <data>/registry, one podman storage under <data>/podman (the builder's layer cache and the
// agent's images and containers), and the local node base image the sample app builds FROM
// (made offline from busybox-static and this machine's node, once). The registry port is kept
// in <data>/registry/port, so the images deployments recorded stay reachable on the next run.

import fs from "node:fs";
import path from "node:path";
import { ensureNodeBaseImage, LOCAL_NODE_IMAGE } from "../containers/baseImage.js";
import { Podman } from "../containers/podman.js";
import { startRegistry } from "../containers/registry.js";
import { findBinary, repoRoot } from "./binaries.js";
import { choosePort } from "./net.js";

export interface DevContainers {
  registryHost: string;
  /** For `switchyard serve`: builds from git, pushed to the registry. */
  serveEnv: Record<string, string>;
  /** For the agent: the container driver on the same storage. */
  agentEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** "container" when podman, runc and docker-registry are installed, else "process" (SWITCHYARD_DEV_DRIVER wins). */
export function devDriver(env: NodeJS.ProcessEnv): "container" | "process" {
  const chosen = env.SWITCHYARD_DEV_DRIVER?.trim();
  if (chosen === "container" || chosen === "process") return chosen;
  return findBinary("podman") && findBinary("runc") && findBinary("docker-registry") ? "container" : "process";
}

export async function startDevContainers(dataRoot: string, takenPorts: Set<number>, say: (line: string) => void): Promise<DevContainers> {
  const registryDir = path.join(dataRoot, "registry");
  await fs.promises.mkdir(registryDir, { recursive: true, mode: 0o700 });
  const portFile = path.join(registryDir, "port");
  const remembered = Number(await fs.promises.readFile(portFile, "utf8").catch(() => "5000"));
  const port = await choosePort(Number.isInteger(remembered) && remembered > 0 ? remembered : 5000, takenPorts);
  takenPorts.add(port);
  await fs.promises.writeFile(portFile, `${port}\n`);
  const registry = await startRegistry({ dir: registryDir, port });
  say(`registry on ${registry.host} (data in ${path.relative(process.cwd(), registryDir) || registryDir})`);
  const storageDir = path.join(dataRoot, "podman");
  try {
    const podman = new Podman({ storageDir });
    const fresh = (await podman.run(["image", "exists", LOCAL_NODE_IMAGE])).code !== 0;
    if (fresh) say(`making the local base image ${LOCAL_NODE_IMAGE} (busybox-static + this machine's node; once)`);
    await ensureNodeBaseImage(podman, path.join(dataRoot, "tmp"));
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return {
    registryHost: registry.host,
    serveEnv: {
      SWITCHYARD_REGISTRY: registry.host,
      SWITCHYARD_REGISTRY_INSECURE: "true",
      SWITCHYARD_BUILD_DIR: path.join(dataRoot, "builds"),
      SWITCHYARD_BUILD_PODMAN_STORAGE: storageDir,
      SWITCHYARD_BUILD_ARGS: `NODE_IMAGE=${LOCAL_NODE_IMAGE}`,
      // The checkout itself may be built (the README's quick start deploys examples/hello from it).
      SWITCHYARD_BUILD_LOCAL_SOURCES: repoRoot,
    },
    agentEnv: {
      SWITCHYARD_AGENT_DRIVER: "container",
      SWITCHYARD_AGENT_PODMAN_STORAGE: storageDir,
      SWITCHYARD_AGENT_INSECURE_REGISTRIES: registry.host,
    },
    stop: () => registry.stop(),
  };
}
