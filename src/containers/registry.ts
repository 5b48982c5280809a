// A private OCI registry: Debian's docker-registry (distribution 2.8) on a loopback port with its
// data in a directory of ours — the dev stack's (.data/registry) and the tests' (a temp dir).
// Plain HTTP on 127.0.0.1 only: podman talks to it with --tls-verify=false
// (SWITCHYARD_REGISTRY_INSECURE / the agent's --insecure-registries).

import fs from "node:fs";
import path from "node:path";
import { requireBinary } from "../dev/binaries.js";
import { freePort, LOOPBACK } from "../dev/net.js";
import { ManagedProcess } from "../dev/process.js";

export interface RegistryOptions {
  /** Data (blobs, manifests) and the config file live here. */
  dir: string;
  port?: number;
  readyTimeoutMs?: number;
}

export interface Registry {
  /** "127.0.0.1:PORT": the registry part of an image reference. */
  readonly host: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  const binary = requireBinary("docker-registry", "docker-registry");
  const port = opts.port ?? (await freePort());
  const host = `${LOOPBACK}:${port}`;
  await fs.promises.mkdir(path.join(opts.dir, "data"), { recursive: true, mode: 0o700 });
  const config = path.join(opts.dir, "config.yml");
  await fs.promises.writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${JSON.stringify(path.join(opts.dir, "data"))}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      "",
    ].join("\n"),
  );
  const proc = new ManagedProcess({
    name: "docker-registry",
    command: binary,
    args: ["serve", config],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    logFile: path.join(opts.dir, "registry.log"),
  });
  proc.start();
  await proc.waitUntil(
    "docker-registry to answer /v2/",
    async () => {
      try {
        return (await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        return false;
      }
    },
    opts.readyTimeoutMs ?? 15_000,
    25,
  );
  return { host, process: proc, stop: () => proc.stop() };
}
