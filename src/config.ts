import { buildConfig, type BuildConfig } from "./build/buildConfig.js";
import { isIP } from "node:net";
import { parseAddressRanges, type AddressRanges } from "./domain/addressRanges.js";
import { parseMasterKeys, type MasterKey } from "./vault/vault.js";
import { parseMetricsListen, type MetricsListen } from "./telemetry/metricsServer.js";

// Configuration comes from environment variables only. `loadConfig` validates every value at
// start and reports every bad one at once, each naming its variable, so an operator fixes a
// deployment in one pass instead of one crash per typo.

export interface TenantToken {
  tenantId: string;
  token: string;
}

/** A region credential: the agents and gateways of `region` call ClusterService with it. */
export interface AgentToken {
  region: string;
  token: string;
}

export interface Config {
  /** Interface every server of this process binds to. */
  host: string;
  /** Connect API port (HTTP/1.1 and h2c on one socket). */
  apiPort: number;
  /** Where the Prometheus /metrics endpoint listens (its own port); undefined = none. */
  metricsListen: MetricsListen | undefined;
  /** Restate service endpoint port (h2c). */
  endpointPort: number;
  /** URL restate-server uses to reach our endpoint. */
  endpointAdvertisedUrl: string;
  databaseUrl: string;
  restateAdminUrl: string;
  restateIngressUrl: string;
  /** Register the endpoint with the Restate admin API at start. */
  registerWithRestate: boolean;
  /**
   * Request identity keys (`publickeyv1_…`) of the restate-servers allowed to call the endpoint;
   * empty accepts unsigned requests (a loopback-only setup).
   */
  restateIdentityKeys: string[];
  /** Serve unsigned requests when no identity key is configured (an explicit, loopback-only choice). */
  restateAllowUnsigned: boolean;
  /**
   * How Restate retries a handler that failed with a retryable error: exponential from
   * `initialIntervalMs` to `maxIntervalMs`, at most `maxAttempts` attempts, then the invocation
   * ends (killed or paused, by service) with its last error instead of retrying forever.
   */
  restateRetry: { maxAttempts: number; initialIntervalMs: number; maxIntervalMs: number };
  /** Bearer tokens, each bound to one tenant. */
  apiTokens: TenantToken[];
  /** Apex under which generated hostnames live; also exempt from the local-domain filter. */
  platformApex: string;
  /** Addresses an apex custom domain (example.com) points its A/AAAA records at. */
  apexAddresses: string[];
  /** DNS servers ("ip" or "ip:port") ownership checks ask; empty = the system's resolvers. */
  dnsServers: string[];
  /** How long one ownership lookup may take before it counts as Unknown. */
  dnsTimeoutMs: number;
  /** The most DNS queries ownership checks start in one second (per process). */
  dnsQueriesPerSecond: number;
  /** Master keys of the vault, current first; empty = private keys cannot be stored (no ACME). */
  masterKeys: MasterKey[];
  /** ACME directory of the CA. */
  acmeDirectoryUrl: string;
  /** Where the authoritative server of the ACME challenge zone listens; unset = no DNS-01. */
  challengeDnsListen: { host: string; port: number } | undefined;
  /** Which ACME account orders: each workspace's own, or one platform account for all. */
  acmeAccount: "workspace" | "platform";
  /** Order a certificate as soon as a TLS-enabled domain is verified (else only on ProvisionCert). */
  autoTls: boolean;
  /** Waits before re-ordering a certificate after a failed attempt (the last one repeats). */
  certRetryBackoffMs: number[];
  /** How long before not_after a `CertExpiring` event is raised while no renewal has succeeded. */
  certExpiryWarningsMs: number[];
  /** The most new orders one ACME account places in a sliding window (the CA's own limit, with room). */
  acmeOrderBudget: { orders: number; windowMs: number };
  /** Issuer domains of the ACME CA as CAA records name it; a CAA set without them is diagnosed. */
  caaIdentities: string[];
  /** Delays between ownership checks of an unverified domain (the last one repeats). */
  domainCheckBackoffMs: number[];
  /** Delay between ownership checks of a verified domain. */
  domainRecheckMs: number;
  /** How long a verified domain may lack every ownership proof before it is detached. */
  domainLostGraceMs: number;
  /** Waits between the attempts of one webhook delivery; one more attempt than steps, then abandoned. */
  webhookBackoffMs: number[];
  /** How often an idle webhook endpoint looks for new events. */
  webhookPollMs: number;
  /** How long one webhook POST may take. */
  webhookTimeoutMs: number;
  /** How long a removed custom hostname stays reserved for the tenant that removed it. */
  domainTombstoneMs: number;
  /** Address ranges beyond public unicast that tenant-directed connections (webhooks) may reach. */
  outboundAllowedRanges: AddressRanges;
  /** How long a new API connection may take to send its request headers (slow-loris bound). */
  apiHeaderTimeoutMs: number;
  /** How long an API connection may stay open without a request in flight. */
  apiIdleTimeoutMs: number;
  /** Grace period before a previous live deployment goes to standby. */
  standbyGraceMs: number;
  /** How long a deployment waits for its instances to report running. */
  instanceReadyTimeoutMs: number;
  /** Regions every deployment runs in (one agent per region). */
  regions: string[];
  /** Image for git-only deployments, e.g. registry.example.com/{workspace}/{project}:{sha}. */
  prebuiltImageTemplate: string | undefined;
  /** Builds from git and the registry (src/build/buildConfig.ts). */
  build: BuildConfig;
  logLevel: string;

  // --- cluster: agents, the change feed, retention ---
  /** Region credentials of agents and gateways (all tenants, their own region only). */
  agentTokens: AgentToken[];
  /** Ranges every address an agent reports must lie in (loopback by default, for dev and tests). */
  instanceAddressRanges: AddressRanges;
  /** How often a process's feed tailer looks for changes committed by other replicas. */
  feedPollMs: number;
  /** Changes a watch stream may have waiting before it is closed as too slow (the client resumes). */
  feedStreamBuffer: number;
  /** How long changes, events and operations are kept, and how often pruning runs. */
  retention: { changesMs: number; eventsMs: number; operationsMs: number; intervalMs: number };

  // --- OpenAPI ---
  /** One scrape of a deployment's spec, connect to last byte (redirects on the instance included). */
  openapiScrapeTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `15m`, `2h`, `7d`; returns undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNIT_MS[match[2]!]!;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const read = (name: string, fallback: string) => {
    const value = env[name];
    return value === undefined || value === "" ? fallback : value;
  };
  const port = (name: string, fallback: number) => {
    const raw = read(name, String(fallback));
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      problems.push(`${name}: "${raw}" is not a TCP port (0-65535)`);
      return fallback;
    }
    return value;
  };
  const url = (name: string, fallback: string, protocols: string[]) => {
    const raw = read(name, fallback);
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name}: "${redact(raw)}" must use ${protocols.join(" or ")}`);
      }
    } catch {
      problems.push(`${name}: "${redact(raw)}" is not a valid URL`);
    }
    return raw.replace(/\/+$/, "");
  };
  const duration = (name: string, fallback: string) => {
    const raw = read(name, fallback);
    const value = parseDuration(raw);
    if (value === undefined) {
      problems.push(`${name}: "${raw}" is not a duration (examples: 500ms, 30s, 15m, 2h)`);
      return parseDuration(fallback)!;
    }
    return value;
  };
  const positiveInteger = (name: string, fallback: number) => {
    const raw = read(name, String(fallback));
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) {
      problems.push(`${name}: "${raw}" is not a positive integer`);
      return fallback;
    }
    return value;
  };
  const durations = (name: string, fallback: string) => {
    const raw = read(name, fallback);
    const values = raw.split(",").map((part) => parseDuration(part));
    if (values.some((v) => v === undefined || v === 0)) {
      problems.push(`${name}: "${raw}" is not a comma-separated list of non-zero durations (example: 10s,30s,1m)`);
      return fallback.split(",").map((part) => parseDuration(part)!);
    }
    return values as number[];
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = read(name, String(fallback)).toLowerCase();
    if (raw === "true" || raw === "1") return true;
    if (raw === "false" || raw === "0") return false;
    problems.push(`${name}: "${raw}" must be true or false`);
    return fallback;
  };

  const host = read("SWITCHYARD_HOST", "127.0.0.1");
  const apiPort = port("SWITCHYARD_PORT", 7080);
  const endpointPort = port("SWITCHYARD_ENDPOINT_PORT", 9080);
  const metricsListen = parseMetricsListen(read("SWITCHYARD_METRICS_LISTEN", ""), "SWITCHYARD_METRICS_LISTEN", problems);
  const endpointAdvertisedUrl = url(
    "SWITCHYARD_ENDPOINT_URL",
    `http://${host.includes(":") ? `[${host}]` : host}:${endpointPort}`,
    ["http:", "https:"],
  );
  const databaseUrl = url("DATABASE_URL", "mysql://root@127.0.0.1:3306/switchyard", ["mysql:"]);
  const restateAdminUrl = url("RESTATE_ADMIN_URL", "http://127.0.0.1:9070", ["http:", "https:"]);
  const restateIngressUrl = url("RESTATE_INGRESS_URL", "http://127.0.0.1:8080", ["http:", "https:"]);

  const apiTokens = parseTokens(read("SWITCHYARD_API_TOKENS", ""), problems);
  const restateIdentityKeys = read("SWITCHYARD_RESTATE_IDENTITY_KEYS", "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
  for (const key of restateIdentityKeys) {
    if (!/^publickeyv1_[1-9A-HJ-NP-Za-km-z]{32,64}$/.test(key)) {
      problems.push(`SWITCHYARD_RESTATE_IDENTITY_KEYS: "${key}" is not a Restate request identity key (publickeyv1_…, as restate-server logs it at start)`);
    }
  }

  const outboundRaw = read("SWITCHYARD_OUTBOUND_ALLOWED_RANGES", "");
  const outbound = parseAddressRanges(outboundRaw);
  if ("problem" in outbound) problems.push(`SWITCHYARD_OUTBOUND_ALLOWED_RANGES: ${outbound.problem} (example: 127.0.0.0/8,::1/128)`);

  const platformApex = read("SWITCHYARD_PLATFORM_APEX", "switchyard.app").toLowerCase();
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(platformApex)) {
    problems.push(`SWITCHYARD_PLATFORM_APEX: "${platformApex}" is not a DNS name with at least two labels`);
  }
  const regions = read("SWITCHYARD_REGIONS", "local").split(",").map((r) => r.trim());
  for (const region of regions) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(region)) problems.push(`SWITCHYARD_REGIONS: "${region}" is not a region name (lowercase letters, digits, hyphens)`);
  }
  const prebuiltImageTemplate = env.SWITCHYARD_PREBUILT_IMAGE_TEMPLATE || undefined;
  if (prebuiltImageTemplate && !prebuiltImageTemplate.includes("{sha}")) {
    problems.push("SWITCHYARD_PREBUILT_IMAGE_TEMPLATE: must contain {sha}");
  }
  const apexAddresses = read("SWITCHYARD_APEX_ADDRESSES", "127.0.0.1").split(",").map((a) => a.trim());
  for (const address of apexAddresses) {
    if (isIP(address) === 0) problems.push(`SWITCHYARD_APEX_ADDRESSES: "${address}" is not an IPv4 or IPv6 address`);
  }
  const dnsServers = read("SWITCHYARD_DNS_SERVERS", "").split(",").map((a) => a.trim()).filter(Boolean);
  for (const server of dnsServers) {
    const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(server) ?? /^([0-9a-fA-F:]+)$/.exec(server);
    const address = match?.[1] ?? match?.[2] ?? "";
    if (!match || isIP(address) === 0 || (match[3] !== undefined && Number(match[3]) > 65535)) {
      problems.push(`SWITCHYARD_DNS_SERVERS: "${server}" is not an IP address with an optional port (1.1.1.1, 127.0.0.1:5353, [::1]:53)`);
    }
  }
  const masterKeys = parseMasterKeys(read("SWITCHYARD_MASTER_KEYS", ""));
  if ("problem" in masterKeys) problems.push(`SWITCHYARD_MASTER_KEYS: ${masterKeys.problem}`);
  const acmeDirectoryUrl = url("SWITCHYARD_ACME_DIRECTORY_URL", "https://acme-v02.api.letsencrypt.org/directory", ["https:", "http:"]);
  const challengeListenRaw = read("SWITCHYARD_CHALLENGE_DNS_LISTEN", "");
  const challengeListenMatch = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(challengeListenRaw.trim());
  let challengeDnsListen: Config["challengeDnsListen"];
  if (challengeListenRaw !== "") {
    if (!challengeListenMatch || isIP(challengeListenMatch[1]!) !== 4 || Number(challengeListenMatch[2]) > 65535) {
      problems.push(`SWITCHYARD_CHALLENGE_DNS_LISTEN: "${challengeListenRaw}" is not an IPv4 address and port (example: 127.0.0.1:5353)`);
    } else {
      challengeDnsListen = { host: challengeListenMatch[1]!, port: Number(challengeListenMatch[2]) };
    }
  }
  const acmeAccount = read("SWITCHYARD_ACME_ACCOUNT", "workspace");
  if (acmeAccount !== "workspace" && acmeAccount !== "platform") problems.push(`SWITCHYARD_ACME_ACCOUNT: "${acmeAccount}" must be workspace or platform`);
  const orderBudgetRaw = read("SWITCHYARD_ACME_ORDER_BUDGET", "250/3h");
  const orderBudgetMatch = /^(\d+)\/(.+)$/.exec(orderBudgetRaw.trim());
  const orderBudgetWindow = orderBudgetMatch ? parseDuration(orderBudgetMatch[2]!) : undefined;
  let acmeOrderBudget = { orders: 250, windowMs: 3 * 3_600_000 };
  if (!orderBudgetMatch || Number(orderBudgetMatch[1]) < 1 || !orderBudgetWindow) {
    problems.push(`SWITCHYARD_ACME_ORDER_BUDGET: "${orderBudgetRaw}" is not <orders>/<duration> with at least one order (example: 250/3h)`);
  } else {
    acmeOrderBudget = { orders: Number(orderBudgetMatch[1]), windowMs: orderBudgetWindow };
  }
  const logLevel = read("SWITCHYARD_LOG_LEVEL", "info");
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`SWITCHYARD_LOG_LEVEL: "${logLevel}" must be one of ${LOG_LEVELS.join(", ")}`);
  }

  // --- cluster: agents, the change feed, retention ---
  const agentTokens = parseAgentTokens(read("SWITCHYARD_AGENT_TOKENS", ""), new Set(regions), apiTokens, problems);
  const instanceRangesRaw = read("SWITCHYARD_INSTANCE_ADDRESS_RANGES", "127.0.0.0/8,::1");
  const instanceAddressRanges = parseAddressRanges(instanceRangesRaw);
  if ("problem" in instanceAddressRanges) problems.push(`SWITCHYARD_INSTANCE_ADDRESS_RANGES: ${instanceAddressRanges.problem} (example: 10.0.0.0/8,fd00::/8)`);
  else if (instanceAddressRanges.cidrs.length === 0) problems.push("SWITCHYARD_INSTANCE_ADDRESS_RANGES: needs at least one CIDR range (example: 10.0.0.0/8)");
  // 25 ms: a change committed by another replica reaches 100 streams within the 100 ms target
  // with room for the fan-out; 40 empty primary-key reads a second per replica cost MySQL nothing.
  const feedPollMs = duration("SWITCHYARD_FEED_POLL", "25ms");
  if (feedPollMs < 5 || feedPollMs > 10_000) problems.push(`SWITCHYARD_FEED_POLL: must be between 5ms and 10s`);
  const retention = {
    changesMs: duration("SWITCHYARD_RETENTION_CHANGES", "7d"),
    eventsMs: duration("SWITCHYARD_RETENTION_EVENTS", "30d"),
    operationsMs: duration("SWITCHYARD_RETENTION_OPERATIONS", "30d"),
    intervalMs: duration("SWITCHYARD_RETENTION_INTERVAL", "1h"),
  };
  // An operation record is what keeps a step exactly-once when its invocation re-runs it after a
  // crash; a paused invocation may be resumed, or an outage end, days later (README: Retention).
  if (retention.operationsMs < 86_400_000) problems.push("SWITCHYARD_RETENTION_OPERATIONS: must be at least 1d (an invocation retried after an outage must still find its step's record)");
  for (const [name, value] of [["SWITCHYARD_RETENTION_CHANGES", retention.changesMs], ["SWITCHYARD_RETENTION_EVENTS", retention.eventsMs], ["SWITCHYARD_RETENTION_INTERVAL", retention.intervalMs]] as const) {
    if (value < 100) problems.push(`${name}: must be at least 100ms`);
  }

  const openapiScrapeTimeoutMs = duration("SWITCHYARD_OPENAPI_SCRAPE_TIMEOUT", "10s");
  if (openapiScrapeTimeoutMs < 100 || openapiScrapeTimeoutMs > 120_000) problems.push("SWITCHYARD_OPENAPI_SCRAPE_TIMEOUT: must be between 100ms and 2m");

  const config: Config = {
    host,
    openapiScrapeTimeoutMs,
    apiPort,
    metricsListen,
    endpointPort,
    endpointAdvertisedUrl,
    databaseUrl,
    restateAdminUrl,
    restateIngressUrl,
    registerWithRestate: bool("SWITCHYARD_REGISTER", true),
    restateIdentityKeys,
    restateAllowUnsigned: bool("SWITCHYARD_RESTATE_ALLOW_UNSIGNED", false),
    restateRetry: {
      maxAttempts: positiveInteger("SWITCHYARD_RESTATE_MAX_ATTEMPTS", 40),
      initialIntervalMs: duration("SWITCHYARD_RESTATE_RETRY_INTERVAL", "100ms"),
      maxIntervalMs: duration("SWITCHYARD_RESTATE_RETRY_MAX_INTERVAL", "60s"),
    },
    apiTokens,
    platformApex,
    standbyGraceMs: duration("SWITCHYARD_STANDBY_GRACE", "30m"),
    outboundAllowedRanges: "problem" in outbound ? { text: "", cidrs: [] } : outbound,
    apiHeaderTimeoutMs: duration("SWITCHYARD_API_HEADER_TIMEOUT", "10s"),
    apiIdleTimeoutMs: duration("SWITCHYARD_API_IDLE_TIMEOUT", "60s"),
    apexAddresses,
    domainTombstoneMs: duration("SWITCHYARD_DOMAIN_TOMBSTONE", "7d"),
    dnsServers,
    dnsTimeoutMs: duration("SWITCHYARD_DNS_TIMEOUT", "2s"),
    dnsQueriesPerSecond: positiveInteger("SWITCHYARD_DNS_QPS", 100),
    masterKeys: "problem" in masterKeys ? [] : masterKeys,
    acmeDirectoryUrl,
    challengeDnsListen,
    acmeAccount: acmeAccount === "platform" ? "platform" : "workspace",
    autoTls: bool("SWITCHYARD_AUTO_TLS", true),
    certRetryBackoffMs: durations("SWITCHYARD_CERT_RETRY_BACKOFF", "1h,2h,4h,8h,16h,32h"),
    certExpiryWarningsMs: durations("SWITCHYARD_CERT_EXPIRY_WARNINGS", "14d,3d"),
    acmeOrderBudget,
    caaIdentities: read("SWITCHYARD_ACME_CAA_IDENTITIES", "letsencrypt.org").split(",").map((i) => i.trim().toLowerCase()).filter(Boolean),
    domainCheckBackoffMs: durations("SWITCHYARD_DOMAIN_CHECK_BACKOFF", "10s,30s,1m,2m,5m,10m,30m,1h"),
    domainRecheckMs: duration("SWITCHYARD_DOMAIN_RECHECK", "6h"),
    domainLostGraceMs: duration("SWITCHYARD_DOMAIN_LOST_GRACE", "72h"),
    webhookBackoffMs: durations("SWITCHYARD_WEBHOOK_BACKOFF", "1s,5s,30s,2m,10m,30m,1h,2h,4h,8h"),
    webhookPollMs: duration("SWITCHYARD_WEBHOOK_POLL", "2s"),
    webhookTimeoutMs: duration("SWITCHYARD_WEBHOOK_TIMEOUT", "10s"),
    instanceReadyTimeoutMs: duration("SWITCHYARD_INSTANCE_READY_TIMEOUT", "10m"),
    regions: [...new Set(regions)],
    prebuiltImageTemplate,
    build: buildConfig(env, problems),
    logLevel,
    agentTokens,
    instanceAddressRanges: "problem" in instanceAddressRanges ? { text: "", cidrs: [] } : instanceAddressRanges,
    feedPollMs,
    feedStreamBuffer: positiveInteger("SWITCHYARD_FEED_STREAM_BUFFER", 1000),
    retention,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** `tenant=token` pairs separated by commas; a token is at least 16 characters. */
function parseTokens(raw: string, problems: string[]): TenantToken[] {
  if (raw.trim() === "") {
    problems.push("SWITCHYARD_API_TOKENS: required; set it to tenant=token pairs, e.g. acme=$(openssl rand -hex 24)");
    return [];
  }
  const tokens: TenantToken[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of raw.split(",").entries()) {
    const separator = entry.indexOf("=");
    const tenantId = entry.slice(0, separator).trim();
    const token = entry.slice(separator + 1).trim();
    if (separator < 1 || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenantId)) {
      problems.push(`SWITCHYARD_API_TOKENS: entry ${index + 1} must be tenant=token with a lowercase tenant id`);
    } else if (token.length < 16) {
      problems.push(`SWITCHYARD_API_TOKENS: the token of tenant "${tenantId}" is shorter than 16 characters`);
    } else if (seen.has(token)) {
      problems.push(`SWITCHYARD_API_TOKENS: the token of tenant "${tenantId}" is used twice`);
    } else {
      seen.add(token);
      tokens.push({ tenantId, token });
    }
  }
  return tokens;
}

/**
 * `region=token` pairs separated by commas (a region may have several, for rotation); empty =
 * no agent can connect. Each token is at least 16 characters, unique, and not a tenant's token.
 */
function parseAgentTokens(raw: string, regions: ReadonlySet<string>, tenantTokens: TenantToken[], problems: string[]): AgentToken[] {
  const tokens: AgentToken[] = [];
  const seen = new Set(tenantTokens.map((t) => t.token));
  const tenantToken = new Set(seen);
  for (const [index, entry] of raw.split(",").entries()) {
    if (entry.trim() === "") continue;
    const separator = entry.indexOf("=");
    const region = entry.slice(0, separator).trim();
    const token = entry.slice(separator + 1).trim();
    if (separator < 1) {
      problems.push(`SWITCHYARD_AGENT_TOKENS: entry ${index + 1} must be region=token`);
    } else if (!regions.has(region)) {
      problems.push(`SWITCHYARD_AGENT_TOKENS: region "${region.slice(0, 64)}" (entry ${index + 1}) is not in SWITCHYARD_REGIONS (${[...regions].join(", ")})`);
    } else if (token.length < 16) {
      problems.push(`SWITCHYARD_AGENT_TOKENS: the token of region "${region}" is shorter than 16 characters`);
    } else if (tenantToken.has(token)) {
      problems.push(`SWITCHYARD_AGENT_TOKENS: the token of region "${region}" is also a tenant's token in SWITCHYARD_API_TOKENS`);
    } else if (seen.has(token)) {
      problems.push(`SWITCHYARD_AGENT_TOKENS: the token of region "${region}" is used twice`);
    } else {
      seen.add(token);
      tokens.push({ region, token });
    }
  }
  return tokens;
}

/** Hides the password of a URL before it goes into an error message. */
export function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}
