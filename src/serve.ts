import "./polyfill.js";
import type net from "node:net";
import type http2 from "node:http2";
import { sql, type Kysely } from "kysely";
import { ConfigError, type Config } from "./config.js";
import type { Logger } from "./log.js";
import type { Database } from "./db/schema.js";
import { createDb } from "./db/connect.js";
import { createApiServer } from "./api/server.js";
import { OasdiffSpecDiffer } from "./openapi/specDiffer.js";
import { closeServer, listen } from "./api/listener.js";
import { startChallengeZoneServer } from "./dns/challengeZoneServer.js";
import { challengeZoneOf } from "./customDomains/records.js";
import { registerEndpoint } from "./restate/admin.js";
import { connectIngress } from "./restate/ingress.js";
import { createDnsProbe } from "./dns/dnsProbe.js";
import { createRestateEndpointServer } from "../workflows/endpoint.js";
import type { BuildService } from "./build/buildService.js";
import { ContainerBuildService } from "./build/containerBuilds.js";
import { PrebuiltImageBuildService } from "./build/prebuiltImages.js";
import { FeedCommits } from "./db/feedCommits.js";
import { FeedTailer } from "./cluster/feedTailer.js";
import { startRetention } from "./cluster/startRetention.js";
import { startMetricsServer, type MetricsServer } from "./telemetry/metricsServer.js";
import { registry } from "./telemetry/metrics.js";
import { registerDatabaseGauges } from "./telemetry/databaseGauges.js";
import { flushTracing } from "./telemetry/tracing.js";

export interface RunningSwitchyard {
  apiPort: number;
  endpointPort: number;
  /** The Prometheus endpoint, when SWITCHYARD_METRICS_LISTEN is set. */
  metrics: MetricsServer | undefined;
  db: Kysely<Database>;
  close(): Promise<void>;
}

/**
 * `switchyard serve`: the Connect API and the Restate endpoint, each on its own port, then the
 * endpoint's registration with restate-server. Nothing here keeps state: replicas are equal.
 */
export async function startSwitchyard(config: Config, logger: Logger): Promise<RunningSwitchyard> {
  // private-internals: the endpoint runs any handler for whoever reaches it, so it serves only
  // restate-server's signed requests unless the operator says otherwise on purpose.
  if (config.restateIdentityKeys.length === 0 && !config.restateAllowUnsigned) {
    throw new ConfigError([
      "SWITCHYARD_RESTATE_IDENTITY_KEYS: required, so that only your restate-server can invoke the endpoint (give restate-server the private key with RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE); set SWITCHYARD_RESTATE_ALLOW_UNSIGNED=true only for an endpoint nothing else can reach",
    ]);
  }
  // One feed tailer per process, woken by this process's own commits to the change feed.
  const feedCommits = new FeedCommits();
  const db = createDb(config.databaseUrl, { feedCommits });
  await waitForDatabase(db, logger);
  const feed = new FeedTailer(db, feedCommits, { pollMs: config.feedPollMs, streamBuffer: config.feedStreamBuffer, logger });
  registerDatabaseGauges(registry, db, feed);
  const metrics = config.metricsListen ? await startMetricsServer(registry, config.metricsListen) : undefined;
  if (metrics) logger.info({ url: metrics.url }, "metrics listening");

  // Builds from git when a registry is configured; otherwise only pre-built images (and the template).
  const builder: BuildService = config.build.registry
    ? new ContainerBuildService(config.build, config.outboundAllowedRanges, config.prebuiltImageTemplate)
    : new PrebuiltImageBuildService(config.prebuiltImageTemplate);
  const differ = new OasdiffSpecDiffer();
  const dns = createDnsProbe({ servers: config.dnsServers, timeoutMs: config.dnsTimeoutMs, queriesPerSecond: config.dnsQueriesPerSecond });
  const endpointServer: http2.Http2Server = createRestateEndpointServer({ db, config, logger, builder, dns, differ });
  const endpointPort = await listen(endpointServer, config.endpointPort, config.host);
  logger.info({ url: `http://${config.host}:${endpointPort}` }, "restate endpoint listening");

  if (config.registerWithRestate) {
    // With port 0 the advertised URL must follow the port we actually got.
    const endpointUrl = config.endpointPort === 0 ? `http://${config.host}:${endpointPort}` : config.endpointAdvertisedUrl;
    await registerEndpoint({ adminUrl: config.restateAdminUrl, endpointUrl, logger });
  }
  const ingress = connectIngress(config.restateIngressUrl);
  await startRetention(ingress, logger);

  // The API opens last: once it accepts connections, every RPC can reach its workflows.
  const apiServer: net.Server = createApiServer({ config, logger, db, ingress, feed, differ });
  const apiPort = await listen(apiServer, config.apiPort, config.host);
  logger.info({ url: `http://${config.host}:${apiPort}` }, "connect api listening");
  // DNS-01 through the _acme-challenge delegation needs the challenge zone answered by us.
  const challengeZone = config.challengeDnsListen
    ? await startChallengeZoneServer({ db, zone: challengeZoneOf(config.platformApex), host: config.challengeDnsListen.host, port: config.challengeDnsListen.port, logger })
    : undefined;

  return {
    apiPort,
    endpointPort,
    metrics,
    db,
    async close() {
      await Promise.all([feed.close(), closeServer(apiServer), closeServer(endpointServer), challengeZone?.close(), metrics?.close()]);
      await db.destroy();
      await flushTracing();
    },
  };
}

/** The database may still be starting (compose, dev stack): wait a bounded time for it. */
async function waitForDatabase(db: Kysely<Database>, logger: Logger, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`SELECT 1`.execute(db);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`database unreachable after ${timeoutMs} ms: ${(error as Error).message}`);
      logger.warn({ attempt, problem: (error as Error).message }, "waiting for database");
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * attempt)));
    }
  }
}
