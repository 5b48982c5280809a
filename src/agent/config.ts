// `switchyard agent` settings: every one is a flag and an environment variable (the flag wins),
// except the token, which is only an environment variable so that `ps` never shows it. All of
// them are checked at start and every problem is reported at once, each naming its flag and
// variable, as src/config.ts does for `serve`.

import os from "node:os";
import path from "node:path";
import { DEFAULT_API_URL } from "../cli/client.js";
import { ConfigError, parseDuration } from "../config.js";
import { parseMetricsListen, type MetricsListen } from "../telemetry/metricsServer.js";

export interface AgentConfig {
  region: string;
  driver: "process" | "container";
  /** Container driver: podman storage of the agent's own (undefined = the machine's). */
  podmanStorage: string | undefined;
  /** Container driver: registries (host:port) pulled from over plain HTTP. */
  insecureRegistries: string[];
  /** Container driver: a loopback port published per instance, or the host's network. */
  containerNetwork: "publish" | "host";
  pullTimeoutMs: number;
  /** Switchyard's Connect API. */
  url: string;
  token: string;
  stateDir: string;
  agentId: string;
  resyncIntervalMs: number;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  startupTimeoutMs: number;
  stopGraceMs: number;
  logMaxBytes: number;
  keepInstances: boolean;
  logLevel: string;
  /** Where its Prometheus /metrics endpoint listens; undefined = none. */
  metricsListen: MetricsListen | undefined;
}

/** The flags of `switchyard agent`, each with its environment variable (src/cli/agent.ts declares them). */
export const AGENT_FLAGS = {
  region: { flag: "--region <name>", env: "SWITCHYARD_AGENT_REGION", help: "region whose deployments this agent runs (required)" },
  driver: { flag: "--driver <name>", env: "SWITCHYARD_AGENT_DRIVER", help: "how instances run: process (local child processes, unsandboxed) or container (podman, the deployment's image)", default: "process" },
  podmanStorage: { flag: "--podman-storage <dir>", env: "SWITCHYARD_AGENT_PODMAN_STORAGE", help: "container driver: podman storage of its own (images, containers) instead of the machine's" },
  insecureRegistries: { flag: "--insecure-registries <host:port,…>", env: "SWITCHYARD_AGENT_INSECURE_REGISTRIES", help: "container driver: registries pulled from over plain HTTP (a private registry on loopback)" },
  containerNetwork: { flag: "--container-network <mode>", env: "SWITCHYARD_AGENT_CONTAINER_NETWORK", help: "container driver: publish (a loopback port per instance) or host (the host's network)", default: "publish" },
  pullTimeout: { flag: "--pull-timeout <duration>", env: "SWITCHYARD_AGENT_PULL_TIMEOUT", help: "container driver: how long one image pull may take", default: "5m" },
  url: { flag: "--url <url>", env: "SWITCHYARD_URL", help: "Switchyard's API", default: DEFAULT_API_URL },
  stateDir: { flag: "--state-dir <dir>", env: "SWITCHYARD_AGENT_STATE_DIR", help: "where the agent keeps its resume point, desired state, instances and logs (required)" },
  agentId: { flag: "--agent-id <id>", env: "SWITCHYARD_AGENT_ID", help: "name of this agent in logs and heartbeats (default: <hostname>-<region>)" },
  resyncInterval: { flag: "--resync-interval <duration>", env: "SWITCHYARD_AGENT_RESYNC_INTERVAL", help: "how often every deployment's desired state is fetched again", default: "5m" },
  healthInterval: { flag: "--health-interval <duration>", env: "SWITCHYARD_AGENT_HEALTH_INTERVAL", help: "between health checks of a healthy instance", default: "5s" },
  healthTimeout: { flag: "--health-timeout <duration>", env: "SWITCHYARD_AGENT_HEALTH_TIMEOUT", help: "how long one health check may take", default: "2s" },
  startupTimeout: { flag: "--startup-timeout <duration>", env: "SWITCHYARD_AGENT_STARTUP_TIMEOUT", help: "how long an instance may take to become healthy before its deployment is FAILED (a deployment's own startup_timeout wins)", default: "2m" },
  stopGrace: { flag: "--stop-grace <duration>", env: "SWITCHYARD_AGENT_STOP_GRACE", help: "between SIGTERM and SIGKILL when an instance is stopped", default: "10s" },
  logMaxSize: { flag: "--log-max-size <bytes>", env: "SWITCHYARD_AGENT_LOG_MAX_SIZE", help: "size at which an instance's output.log is rotated (e.g. 1048576, 512KiB, 1MiB)", default: "1MiB" },
  logLevel: { flag: "--log-level <level>", env: "SWITCHYARD_LOG_LEVEL", help: "pino level", default: "info" },
  metricsListen: { flag: "--metrics-listen <host:port>", env: "SWITCHYARD_AGENT_METRICS_LISTEN", help: "serve Prometheus /metrics on this address (a port alone = loopback); unset = no endpoint" },
} as const;

export type AgentOptions = { [K in keyof typeof AGENT_FLAGS]?: string } & { keepInstances?: boolean };

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const SIZE = /^(\d+)(KiB|MiB)?$/;

export function agentConfig(options: AgentOptions, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const problems: string[] = [];
  const name = (key: keyof typeof AGENT_FLAGS) => `${AGENT_FLAGS[key].flag.split(" ")[0]} / ${AGENT_FLAGS[key].env}`;
  const value = (key: keyof typeof AGENT_FLAGS): string => {
    const given = options[key]?.trim();
    if (given) return given;
    const spec = AGENT_FLAGS[key];
    return "default" in spec ? spec.default : "";
  };
  const required = (key: keyof typeof AGENT_FLAGS) => {
    const text = value(key);
    if (text === "") problems.push(`${name(key)}: required`);
    return text;
  };
  const duration = (key: keyof typeof AGENT_FLAGS, min: number, max: number) => {
    const text = value(key);
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      problems.push(`${name(key)}: "${text}" is not a duration between ${min} ms and ${max / 1000} s (examples: 500ms, 5s, 2m)`);
      return min;
    }
    return ms;
  };

  const region = required("region");
  if (region !== "" && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(region)) problems.push(`${name("region")}: "${region}" is not a region name (lowercase letters, digits, hyphens)`);

  const driver = value("driver");
  if (driver !== "process" && driver !== "container") problems.push(`${name("driver")}: "${driver}" is not a driver of this agent (available: process, container)`);
  const containerNetwork = value("containerNetwork");
  if (containerNetwork !== "publish" && containerNetwork !== "host") problems.push(`${name("containerNetwork")}: "${containerNetwork}" must be publish or host`);
  const insecureRegistries = value("insecureRegistries").split(",").map((r) => r.trim()).filter(Boolean);
  for (const registry of insecureRegistries) if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(registry)) problems.push(`${name("insecureRegistries")}: "${registry}" is not host or host:port`);
  const podmanStorage = value("podmanStorage") || undefined;

  const url = value("url");
  try {
    if (!["http:", "https:"].includes(new URL(url).protocol)) problems.push(`${name("url")}: "${url}" must use http: or https:`);
  } catch {
    problems.push(`${name("url")}: "${url}" is not a URL`);
  }

  const token = env.SWITCHYARD_AGENT_TOKEN?.trim() ?? "";
  if (token === "") problems.push("SWITCHYARD_AGENT_TOKEN: required (the agent's credential; an environment variable only, so `ps` never shows it)");
  else if (token.length < 16) problems.push("SWITCHYARD_AGENT_TOKEN: shorter than 16 characters");

  const stateDir = required("stateDir");

  const agentId = value("agentId") || `${os.hostname().replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 100)}-${region}`;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(agentId)) problems.push(`${name("agentId")}: "${agentId}" must be 1-128 characters of [A-Za-z0-9._:-]`);

  const sizeText = value("logMaxSize");
  const size = SIZE.exec(sizeText);
  const logMaxBytes = size ? Number(size[1]) * (size[2] === "MiB" ? 1024 * 1024 : size[2] === "KiB" ? 1024 : 1) : 0;
  if (!size || logMaxBytes < 4096 || logMaxBytes > 1024 ** 3) problems.push(`${name("logMaxSize")}: "${sizeText}" is not a size from 4KiB to 1024MiB (e.g. 1048576, 512KiB, 1MiB)`);

  let keepInstances = options.keepInstances === true;
  const keepEnv = env.SWITCHYARD_AGENT_KEEP_INSTANCES?.trim().toLowerCase();
  if (!keepInstances && keepEnv) {
    if (["true", "1"].includes(keepEnv)) keepInstances = true;
    else if (!["false", "0"].includes(keepEnv)) problems.push(`--keep-instances / SWITCHYARD_AGENT_KEEP_INSTANCES: "${keepEnv}" must be true or false`);
  }

  const logLevel = value("logLevel");
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`${name("logLevel")}: "${logLevel}" must be one of ${LOG_LEVELS.join(", ")}`);

  const metricsListen = parseMetricsListen(value("metricsListen"), name("metricsListen"), problems);

  const config: AgentConfig = {
    region,
    driver: driver === "container" ? "container" : "process",
    podmanStorage: podmanStorage && path.resolve(podmanStorage),
    insecureRegistries,
    containerNetwork: containerNetwork === "host" ? "host" : "publish",
    pullTimeoutMs: duration("pullTimeout", 1000, 3_600_000),
    url: url.replace(/\/+$/, ""),
    token,
    stateDir: stateDir && path.resolve(stateDir),
    agentId,
    resyncIntervalMs: duration("resyncInterval", 1000, 24 * 3_600_000),
    healthIntervalMs: duration("healthInterval", 100, 600_000),
    healthTimeoutMs: duration("healthTimeout", 50, 60_000),
    startupTimeoutMs: duration("startupTimeout", 1000, 3_600_000),
    stopGraceMs: duration("stopGrace", 0, 600_000),
    logMaxBytes,
    keepInstances,
    logLevel,
    metricsListen,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
