// A running Switchyard for tests: the real stack (MariaDB + restate-server, optionally Pebble and
// Caddy), migrations applied, `switchyard serve` as a child process, and Connect clients bound to
// two tenants' tokens.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { Database } from "../../src/db/schema.js";
import { startStack, startSwitchyard, type Stack, type StackOptions, type Switchyard } from "../harness/index.js";

export interface App {
  stack: Stack;
  switchyard: Switchyard;
  db: Kysely<Database>;
  env: Record<string, string>;
  tokens: { acme: string; globex: string };
  /** A Connect client for `service` as `tenant` (or with a raw token / none). */
  client<S extends DescService>(service: S, as?: "acme" | "globex" | { token?: string }, protocol?: "connect" | "connect-binary" | "grpc"): Client<S>;
  stop(): Promise<void>;
}

export interface AppOptions extends StackOptions {
  /** Extra environment for switchyard serve. */
  env?: Record<string, string>;
  /**
   * Serve the API on Pebble's HTTP-01 port, so Pebble's validation requests (to the hostname,
   * which challtestsrv resolves to 127.0.0.1) reach switchyard's /.well-known/acme-challenge/.
   */
  answerHttp01?: boolean;
}

export async function startApp(opts: AppOptions = {}): Promise<App> {
  const stack = await startStack(opts);
  try {
    const tokens = { acme: randomBytes(24).toString("hex"), globex: randomBytes(24).toString("hex") };
    const env = await stack.switchyardEnv({
      SWITCHYARD_API_TOKENS: `acme=${tokens.acme},globex=${tokens.globex}`,
      SWITCHYARD_PLATFORM_APEX: "switchyard.test-apex.dev",
      SWITCHYARD_MASTER_KEYS: `test-1:${randomBytes(32).toString("base64")}`,
      // Without a Pebble of its own a test must never order from the default CA (Let's Encrypt).
      SWITCHYARD_AUTO_TLS: stack.pebble ? "true" : "false",
      ...(opts.answerHttp01 && stack.pebble ? { SWITCHYARD_PORT: String(stack.pebble.httpPort) } : {}),
      ...opts.env,
    });
    await ensureDatabase(stack.mariadb.url);
    const db = createDb(stack.mariadb.url, { poolSize: 4 });
    await migrateToLatest(db);
    const switchyard = await startSwitchyard(env, { readyTimeoutMs: 30_000 });
    const transports = new Map<string, Transport>();
    const transportFor = (protocol: "connect" | "connect-binary" | "grpc", token: string | undefined) => {
      const cacheKey = `${protocol}/${token ?? ""}`;
      let transport = transports.get(cacheKey);
      if (!transport) {
        const interceptors: Interceptor[] = token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))];
        transport =
          protocol === "grpc"
            ? createGrpcTransport({ baseUrl: switchyard.url, interceptors })
            : createConnectTransport({ baseUrl: switchyard.url, httpVersion: "1.1", useBinaryFormat: protocol === "connect-binary", interceptors });
        transports.set(cacheKey, transport);
      }
      return transport;
    };
    return {
      stack,
      switchyard,
      db,
      env,
      tokens,
      client(service, as = "acme", protocol = "connect") {
        const token = typeof as === "string" ? tokens[as] : as.token;
        return createClient(service, transportFor(protocol, token));
      },
      async stop() {
        await switchyard.stop().catch(() => undefined);
        await db.destroy().catch(() => undefined);
        await stack.stop();
      },
    };
  } catch (error) {
    await stack.stop().catch(() => undefined);
    throw error;
  }
}
