import "./polyfill.js";
import type net from "node:net";
import type http2 from "node:http2";
import { sql, type Kysely } from "kysely";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import type { Database } from "./db/schema.js";
import { createDb } from "./db/connect.js";
import { createApiServer } from "./api/server.js";
import { closeServer, listen } from "./api/listener.js";
import { startChallengeZoneServer } from "./dns/challengeZoneServer.js";
import { challengeZoneOf } from "./domain/domainRecords.js";
import { registerEndpoint } from "./restate/admin.js";
import { connectIngress } from "./restate/ingress.js";
import { createDnsProbe } from "./dns/dnsProbe.js";
import { createRestateEndpointServer } from "../workflows/endpoint.js";
import { PrebuiltImageBuildService } from "./build/prebuiltImages.js";

export interface RunningSwitchyard {
  apiPort: number;
  endpointPort: number;
  db: Kysely<Database>;
  close(): Promise<void>;
}

/**
 * `switchyard serve`: the Connect API and the Restate endpoint, each on its own port, then the
 * endpoint's registration with restate-server. Nothing here keeps state: replicas are equal.
 */
export async function startSwitchyard(config: Config, logger: Logger): Promise<RunningSwitchyard> {
  const db = createDb(config.databaseUrl);
  await waitForDatabase(db, logger);

  const builder = new PrebuiltImageBuildService(config.prebuiltImageTemplate);
  const dns = createDnsProbe({ servers: config.dnsServers, timeoutMs: config.dnsTimeoutMs, queriesPerSecond: config.dnsQueriesPerSecond });
  const endpointServer: http2.Http2Server = createRestateEndpointServer({ db, config, logger, builder, dns });
  const endpointPort = await listen(endpointServer, config.endpointPort, config.host);
  logger.info({ url: `http://${config.host}:${endpointPort}` }, "restate endpoint listening");

  if (config.registerWithRestate) {
    // With port 0 the advertised URL must follow the port we actually got.
    const endpointUrl = config.endpointPort === 0 ? `http://${config.host}:${endpointPort}` : config.endpointAdvertisedUrl;
    await registerEndpoint({ adminUrl: config.restateAdminUrl, endpointUrl, logger });
  }

  // The API opens last: once it accepts connections, every RPC can reach its workflows.
  const apiServer: net.Server = createApiServer({ config, logger, db, ingress: connectIngress(config.restateIngressUrl) });
  const apiPort = await listen(apiServer, config.apiPort, config.host);
  logger.info({ url: `http://${config.host}:${apiPort}` }, "connect api listening");
  // DNS-01 through the _acme-challenge delegation needs the challenge zone answered by us.
  const challengeZone = config.challengeDnsListen
    ? await startChallengeZoneServer({ db, zone: challengeZoneOf(config.platformApex), host: config.challengeDnsListen.host, port: config.challengeDnsListen.port, logger })
    : undefined;

  return {
    apiPort,
    endpointPort,
    db,
    async close() {
      await Promise.all([closeServer(apiServer), closeServer(endpointServer), challengeZone?.close()]);
      await db.destroy();
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
