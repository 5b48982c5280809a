// `switchyard gateway` settings: every one a flag and an environment variable (the flag wins),
// the credential an environment variable only (never on a command line `ps` shows). Every
// problem is reported at once, one line each, naming its flag and variable.

import os from "node:os";
import path from "node:path";
import { DEFAULT_API_URL } from "../cli/client.js";
import { ConfigError, parseDuration } from "../config.js";
import { parseMetricsListen, type MetricsListen } from "../telemetry/metricsServer.js";

export interface GatewayConfig {
  region: string;
  router: "caddy";
  /** Switchyard's Connect API. */
  url: string;
  /** A region credential (one of SWITCHYARD_AGENT_TOKENS). */
  token: string;
  /** The routing Caddy's admin API (reloaded on every change; its servers on loopback). */
  caddyAdmin: string;
  /** The front Caddy's admin API (client listeners and TLS; loaded once). */
  frontAdmin: string;
  /** Where clients connect (the front). */
  httpListen: string;
  httpsListen: string;
  /** The routing Caddy's loopback servers the front forwards to. */
  routingHttpListen: string;
  routingHttpsListen: string;
  /** Where Caddy asks for certificates (this process's loopback endpoint). */
  certificateListen: string;
  /** host:port that answers /.well-known/acme-challenge/ (switchyard's API by default). */
  acmeUpstream: string;
  stateDir: string;
  /** Caddy's data directory (its storage); empty = Caddy's default. */
  caddyDataDir: string;
  gatewayId: string;
  debounceMs: number;
  gracePeriodMs: number;
  checkIntervalMs: number;
  logLevel: string;
  /** Where its Prometheus /metrics endpoint listens; undefined = none. */
  metricsListen: MetricsListen | undefined;
}

export const GATEWAY_FLAGS = {
  region: { flag: "--region <name>", env: "SWITCHYARD_GATEWAY_REGION", help: "region whose gateway configs this gateway serves (required)" },
  router: { flag: "--router <name>", env: "SWITCHYARD_GATEWAY_ROUTER", help: "data plane adapter: caddy (Caddy 2.6+ through its admin API)", default: "caddy" },
  caddyAdmin: { flag: "--caddy-admin <url>", env: "SWITCHYARD_GATEWAY_CADDY_ADMIN", help: "the routing Caddy's admin API, on loopback (e.g. http://127.0.0.1:2019; required for --router caddy); reloaded on every routing change" },
  frontAdmin: { flag: "--front-admin <url>", env: "SWITCHYARD_GATEWAY_FRONT_ADMIN", help: "the front Caddy's admin API, on loopback (e.g. http://127.0.0.1:2020; required for --router caddy); it holds the client listeners and TLS and is never reloaded by a routing change" },
  url: { flag: "--url <url>", env: "SWITCHYARD_URL", help: "Switchyard's API", default: DEFAULT_API_URL },
  httpListen: { flag: "--http-listen <host:port>", env: "SWITCHYARD_GATEWAY_HTTP_LISTEN", help: "where the data plane serves HTTP", default: "127.0.0.1:8088" },
  httpsListen: { flag: "--https-listen <host:port>", env: "SWITCHYARD_GATEWAY_HTTPS_LISTEN", help: "where the data plane serves HTTPS", default: "127.0.0.1:8443" },
  routingHttpListen: { flag: "--routing-http-listen <host:port>", env: "SWITCHYARD_GATEWAY_ROUTING_HTTP_LISTEN", help: "loopback address of the routing Caddy's server for what the front received over HTTP", default: "127.0.0.1:8089" },
  routingHttpsListen: { flag: "--routing-https-listen <host:port>", env: "SWITCHYARD_GATEWAY_ROUTING_HTTPS_LISTEN", help: "loopback address of the routing Caddy's server for what the front received over HTTPS (plain HTTP itself)", default: "127.0.0.1:8444" },
  certificateListen: { flag: "--certificate-listen <host:port>", env: "SWITCHYARD_GATEWAY_CERTIFICATE_LISTEN", help: "loopback address where Caddy fetches certificates from this gateway at handshake (port 0 = any free port)", default: "127.0.0.1:0" },
  acmeUpstream: { flag: "--acme-upstream <host:port>", env: "SWITCHYARD_GATEWAY_ACME_UPSTREAM", help: "where /.well-known/acme-challenge/ requests go (default: the host:port of --url)" },
  stateDir: { flag: "--state-dir <dir>", env: "SWITCHYARD_GATEWAY_STATE_DIR", help: "where the gateway keeps its resume point and the configs it applied (required)" },
  caddyDataDir: { flag: "--caddy-data-dir <dir>", env: "SWITCHYARD_GATEWAY_CADDY_DATA_DIR", help: "Caddy's storage directory (default: Caddy's own)" },
  gatewayId: { flag: "--gateway-id <id>", env: "SWITCHYARD_GATEWAY_ID", help: "name of this gateway in logs and heartbeats (default: <hostname>-<region>-gateway)" },
  debounce: { flag: "--debounce <duration>", env: "SWITCHYARD_GATEWAY_DEBOUNCE", help: "how long changes are collected into one apply", default: "10ms" },
  gracePeriod: { flag: "--grace-period <duration>", env: "SWITCHYARD_GATEWAY_GRACE_PERIOD", help: "how long a reload lets old connections finish (Caddy's grace_period)", default: "10s" },
  checkInterval: { flag: "--check-interval <duration>", env: "SWITCHYARD_GATEWAY_CHECK_INTERVAL", help: "how often the gateway checks that the data plane still serves what it applied (a restarted Caddy gets it again)", default: "2s" },
  logLevel: { flag: "--log-level <level>", env: "SWITCHYARD_LOG_LEVEL", help: "pino level", default: "info" },
  metricsListen: { flag: "--metrics-listen <host:port>", env: "SWITCHYARD_GATEWAY_METRICS_LISTEN", help: "serve Prometheus /metrics on this address (a port alone = loopback); unset = no endpoint" },
} as const;

export type GatewayOptions = { [K in keyof typeof GATEWAY_FLAGS]?: string };

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function hostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) return undefined;
  return { host: match[1]!, port: Number(match[2]) };
}

export function gatewayConfig(options: GatewayOptions, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];
  const name = (key: keyof typeof GATEWAY_FLAGS) => `${GATEWAY_FLAGS[key].flag.split(" ")[0]} / ${GATEWAY_FLAGS[key].env}`;
  const value = (key: keyof typeof GATEWAY_FLAGS): string => {
    const given = options[key]?.trim();
    if (given) return given;
    const spec = GATEWAY_FLAGS[key];
    return "default" in spec ? spec.default : "";
  };
  const required = (key: keyof typeof GATEWAY_FLAGS) => {
    const text = value(key);
    if (text === "") problems.push(`${name(key)}: required`);
    return text;
  };
  const duration = (key: keyof typeof GATEWAY_FLAGS, min: number, max: number) => {
    const text = value(key);
    const ms = parseDuration(text);
    if (ms === undefined || ms < min || ms > max) {
      problems.push(`${name(key)}: "${text}" is not a duration between ${min} ms and ${max / 1000} s (examples: 10ms, 5s, 2m)`);
      return min;
    }
    return ms;
  };
  const listen = (key: keyof typeof GATEWAY_FLAGS, allowZero = false) => {
    const text = value(key);
    const parsed = hostPort(text);
    if (!parsed || (!allowZero && parsed.port === 0)) problems.push(`${name(key)}: "${text}" is not host:port (e.g. 127.0.0.1:8088)`);
    return text;
  };
  const httpUrl = (key: keyof typeof GATEWAY_FLAGS, text: string) => {
    try {
      if (!["http:", "https:"].includes(new URL(text).protocol)) problems.push(`${name(key)}: "${text}" must use http: or https:`);
      return true;
    } catch {
      problems.push(`${name(key)}: "${text}" is not a URL`);
      return false;
    }
  };

  const region = required("region");
  if (region !== "" && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(region)) problems.push(`${name("region")}: "${region}" is not a region name (lowercase letters, digits, hyphens)`);

  const router = value("router");
  if (router !== "caddy") problems.push(`${name("router")}: "${router}" is not a router of this gateway (available: caddy)`);

  const adminUrl = (key: "caddyAdmin" | "frontAdmin") => {
    const text = required(key);
    if (text !== "" && httpUrl(key, text)) {
      const parsed = new URL(text);
      if (!LOOPBACK_HOSTS.includes(parsed.hostname)) problems.push(`${name(key)}: "${text}" must be on loopback (Caddy's admin API changes the whole data plane)`);
      else if (parsed.pathname !== "/" || !parsed.port) problems.push(`${name(key)}: "${text}" must be scheme://host:port with no path`);
    }
    return text;
  };
  const caddyAdmin = adminUrl("caddyAdmin");
  const frontAdmin = adminUrl("frontAdmin");
  if (caddyAdmin !== "" && caddyAdmin.replace(/\/+$/, "") === frontAdmin.replace(/\/+$/, "")) problems.push(`${name("frontAdmin")}: "${frontAdmin}" is the routing Caddy's admin API too (--caddy-admin); the front is a Caddy of its own`);

  const loopbackListen = (key: "routingHttpListen" | "routingHttpsListen") => {
    const text = listen(key);
    const host = hostPort(text)?.host;
    if (host && !LOOPBACK_HOSTS.includes(host)) problems.push(`${name(key)}: "${text}" must be on loopback (only the front forwards to it)`);
    return text;
  };
  const httpListen = listen("httpListen");
  const httpsListen = listen("httpsListen");
  const routingHttpListen = loopbackListen("routingHttpListen");
  const routingHttpsListen = loopbackListen("routingHttpsListen");
  const listens: [keyof typeof GATEWAY_FLAGS, string][] = [["httpListen", httpListen], ["httpsListen", httpsListen], ["routingHttpListen", routingHttpListen], ["routingHttpsListen", routingHttpsListen]];
  listens.forEach(([key, text], i) => {
    const clash = listens.slice(0, i).find(([, other]) => other === text);
    if (clash) problems.push(`${name(key)}: "${text}" is already ${name(clash[0])}`);
  });

  const url = value("url");
  const urlOk = httpUrl("url", url);

  const token = env.SWITCHYARD_GATEWAY_TOKEN?.trim() ?? "";
  if (token === "") problems.push("SWITCHYARD_GATEWAY_TOKEN: required (the region's credential from SWITCHYARD_AGENT_TOKENS; an environment variable only, so `ps` never shows it)");
  else if (token.length < 16) problems.push("SWITCHYARD_GATEWAY_TOKEN: shorter than 16 characters");

  let acmeUpstream = value("acmeUpstream");
  if (acmeUpstream === "" && urlOk) {
    const parsed = new URL(url);
    acmeUpstream = `${parsed.hostname}:${parsed.port || (parsed.protocol === "https:" ? 443 : 80)}`;
  } else if (acmeUpstream !== "" && !hostPort(acmeUpstream)) problems.push(`${name("acmeUpstream")}: "${acmeUpstream}" is not host:port`);

  const certificateListen = listen("certificateListen", true);
  const certHost = hostPort(certificateListen)?.host;
  if (certHost && !LOOPBACK_HOSTS.includes(certHost)) problems.push(`${name("certificateListen")}: "${certificateListen}" must be on loopback (it hands out private keys)`);

  const gatewayId = value("gatewayId") || `${os.hostname().replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 100)}-${region}-gateway`;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(gatewayId)) problems.push(`${name("gatewayId")}: "${gatewayId}" must be 1-128 characters of [A-Za-z0-9._:-]`);

  const logLevel = value("logLevel");
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`${name("logLevel")}: "${logLevel}" must be one of ${LOG_LEVELS.join(", ")}`);

  const metricsListen = parseMetricsListen(value("metricsListen"), name("metricsListen"), problems);

  const stateDir = required("stateDir");
  const caddyDataDir = value("caddyDataDir");
  const config: GatewayConfig = {
    region,
    router: "caddy",
    url: url.replace(/\/+$/, ""),
    token,
    caddyAdmin: caddyAdmin.replace(/\/+$/, ""),
    frontAdmin: frontAdmin.replace(/\/+$/, ""),
    httpListen,
    httpsListen,
    routingHttpListen,
    routingHttpsListen,
    certificateListen,
    acmeUpstream,
    stateDir: stateDir && path.resolve(stateDir),
    caddyDataDir: caddyDataDir && path.resolve(caddyDataDir),
    gatewayId,
    debounceMs: duration("debounce", 0, 10_000),
    gracePeriodMs: duration("gracePeriod", 0, 3_600_000),
    checkIntervalMs: duration("checkInterval", 100, 3_600_000),
    logLevel,
    metricsListen,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
