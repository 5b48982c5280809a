// Settings of builds and of the registry, read with the rest of `serve`'s configuration
// (src/config.ts calls buildConfig and reports its problems with the others).
//
//   SWITCHYARD_REGISTRY            host[:port] images are pushed to and pre-built images pinned in;
//                                  unset = no builds from git (the pre-built template instead)
//   SWITCHYARD_REGISTRY_INSECURE   true: plain HTTP (a private registry on loopback)
//   SWITCHYARD_BUILD_DIR           checkouts and build logs (default <tmp>/switchyard-builds)
//   SWITCHYARD_BUILD_PODMAN_STORAGE podman storage of the builder's own (its layer cache)
//   SWITCHYARD_BUILD_TIMEOUT       bound on each stage (default 15m)
//   SWITCHYARD_BUILD_LOG_MAX       bytes of a stage's log kept (default 1048576)
//   SWITCHYARD_BUILD_NETWORK       none (default) or host: the network RUN steps get
//   SWITCHYARD_BUILD_ARGS          NAME=value,… passed to every build (a base-image mirror)
//   SWITCHYARD_BUILD_LOCAL_SOURCES directories whose repositories (paths, file:// URLs) may be built

import os from "node:os";
import path from "node:path";
import { parseDuration } from "../config.js";

export interface BuildConfig {
  registry: { host: string; insecure: boolean } | undefined;
  workDir: string;
  podmanStorage: string | undefined;
  stageTimeoutMs: number;
  logMaxBytes: number;
  network: "none" | "host";
  buildArgs: Record<string, string>;
  localSources: string[];
}

export function buildConfig(env: NodeJS.ProcessEnv, problems: string[]): BuildConfig {
  const read = (name: string) => env[name]?.trim() ?? "";
  const registryText = read("SWITCHYARD_REGISTRY");
  if (registryText && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(registryText)) problems.push(`SWITCHYARD_REGISTRY: "${registryText}" is not host or host:port (example: 127.0.0.1:5000)`);
  const insecureText = read("SWITCHYARD_REGISTRY_INSECURE").toLowerCase() || "false";
  if (!["true", "false", "1", "0"].includes(insecureText)) problems.push(`SWITCHYARD_REGISTRY_INSECURE: "${insecureText}" must be true or false`);
  const timeoutText = read("SWITCHYARD_BUILD_TIMEOUT") || "15m";
  const stageTimeoutMs = parseDuration(timeoutText);
  if (stageTimeoutMs === undefined || stageTimeoutMs < 1000) problems.push(`SWITCHYARD_BUILD_TIMEOUT: "${timeoutText}" is not a duration of at least 1s (examples: 90s, 15m)`);
  const logText = read("SWITCHYARD_BUILD_LOG_MAX") || "1048576";
  const logMaxBytes = Number(logText);
  if (!Number.isInteger(logMaxBytes) || logMaxBytes < 4096) problems.push(`SWITCHYARD_BUILD_LOG_MAX: "${logText}" is not a byte count of at least 4096`);
  const network = read("SWITCHYARD_BUILD_NETWORK") || "none";
  if (network !== "none" && network !== "host") problems.push(`SWITCHYARD_BUILD_NETWORK: "${network}" must be none or host`);
  const buildArgs: Record<string, string> = {};
  for (const entry of read("SWITCHYARD_BUILD_ARGS").split(",").map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(entry);
    if (!match) problems.push(`SWITCHYARD_BUILD_ARGS: "${entry}" is not NAME=value`);
    else buildArgs[match[1]!] = match[2]!;
  }
  const localSources = read("SWITCHYARD_BUILD_LOCAL_SOURCES").split(",").map((d) => d.trim()).filter(Boolean).map((d) => path.resolve(d));
  return {
    registry: registryText ? { host: registryText, insecure: ["true", "1"].includes(insecureText) } : undefined,
    workDir: path.resolve(read("SWITCHYARD_BUILD_DIR") || path.join(os.tmpdir(), "switchyard-builds")),
    podmanStorage: read("SWITCHYARD_BUILD_PODMAN_STORAGE") ? path.resolve(read("SWITCHYARD_BUILD_PODMAN_STORAGE")) : undefined,
    stageTimeoutMs: stageTimeoutMs ?? 15 * 60_000,
    logMaxBytes: Number.isInteger(logMaxBytes) ? logMaxBytes : 1048576,
    network: network === "host" ? "host" : "none",
    buildArgs,
    localSources,
  };
}
