// A load generator for the gateway tests: clients that keep sending GET / to the data plane by
// Host header (and SNI, over HTTPS) — some on keep-alive connections, some on a new connection
// per request — and record every outcome. A failed request is one a client without
// application-level retries sees fail: a connection error, a 5xx, a timeout. The one retry an
// HTTP client makes of an idempotent request whose reused keep-alive connection the server had
// just closed (what browsers and curl do) is counted apart, as `absorbedRetries`.
import http from "node:http";
import https from "node:https";

export interface LoadTarget {
  port: number;
  hostname: string;
  /** HTTPS with this CA (PEM) and SNI = hostname; plain HTTP when absent. */
  ca?: string;
}

export interface Outcome {
  /** ms since the load started (when the response ended). */
  at: number;
  /** Wall clock of the end (Date.now()). */
  wall: number;
  version?: string;
  error?: string;
  keepAlive: boolean;
}

export interface LoadResult {
  outcomes: Outcome[];
  failures: Outcome[];
  absorbedRetries: number;
  versions: Record<string, number>;
}

export interface Load {
  /** Responses so far. */
  readonly outcomes: readonly Outcome[];
  stop(): Promise<LoadResult>;
}

const TIMEOUT_MS = 5_000;

export function startLoad(target: LoadTarget, opts: { keepAliveClients?: number; newConnectionClients?: number } = {}): Load {
  const t0 = performance.now();
  const outcomes: Outcome[] = [];
  let absorbedRetries = 0;
  let running = true;
  const mod = target.ca ? https : http;
  const keepAliveAgent = new mod.Agent({ keepAlive: true, maxSockets: 64, ...(target.ca ? { ca: target.ca, servername: target.hostname } : {}) });

  const once = (keepAlive: boolean): Promise<{ version?: string; error?: string; reused: boolean; beforeResponse: boolean }> =>
    new Promise((resolve) => {
      const req = mod.request(
        {
          host: "127.0.0.1",
          port: target.port,
          path: "/",
          headers: { host: target.hostname, ...(keepAlive ? {} : { connection: "close" }) },
          agent: keepAlive ? keepAliveAgent : false,
          timeout: TIMEOUT_MS,
          ...(target.ca ? { ca: target.ca, servername: target.hostname } : {}),
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("error", (error) => resolve({ error: `response: ${error.message}`, reused: req.reusedSocket, beforeResponse: false }));
          res.on("end", () => {
            if ((res.statusCode ?? 0) >= 500 || res.statusCode !== 200) {
              resolve({ error: `status ${res.statusCode}: ${body.slice(0, 100)}`, reused: req.reusedSocket, beforeResponse: false });
              return;
            }
            try {
              resolve({ version: (JSON.parse(body) as { version: string }).version, reused: req.reusedSocket, beforeResponse: false });
            } catch {
              resolve({ error: `not the app's answer: ${body.slice(0, 100)}`, reused: req.reusedSocket, beforeResponse: false });
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (error) => resolve({ error: error.message, reused: req.reusedSocket, beforeResponse: true }));
      req.end();
    });

  const client = async (keepAlive: boolean) => {
    while (running) {
      let result = await once(keepAlive);
      // A keep-alive connection closed by the server as the request went out: retried once on a
      // fresh connection, as HTTP clients do for idempotent requests.
      if (result.error && result.reused && result.beforeResponse) {
        absorbedRetries++;
        result = await once(keepAlive);
      }
      outcomes.push({ at: performance.now() - t0, wall: Date.now(), keepAlive, ...(result.version ? { version: result.version } : {}), ...(result.error ? { error: result.error } : {}) });
    }
  };
  const clients = [
    ...Array.from({ length: opts.keepAliveClients ?? 3 }, () => client(true)),
    ...Array.from({ length: opts.newConnectionClients ?? 2 }, () => client(false)),
  ];
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(clients);
      keepAliveAgent.destroy();
      const versions: Record<string, number> = {};
      for (const o of outcomes) if (o.version) versions[o.version] = (versions[o.version] ?? 0) + 1;
      return { outcomes, failures: outcomes.filter((o) => o.error), absorbedRetries, versions };
    },
  };
}

/** One GET through the data plane by Host header (and SNI over HTTPS): status and body. */
export function getVia(target: LoadTarget, urlPath = "/"): Promise<{ status: number; body: string }> {
  const mod = target.ca ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: "127.0.0.1", port: target.port, path: urlPath, headers: { host: target.hostname }, agent: false, timeout: TIMEOUT_MS, ...(target.ca ? { ca: target.ca, servername: target.hostname } : {}) },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** The sample app's version answered through the data plane, or undefined (any failure). */
export async function versionVia(target: LoadTarget): Promise<string | undefined> {
  try {
    const { status, body } = await getVia(target);
    return status === 200 ? (JSON.parse(body) as { version: string }).version : undefined;
  } catch {
    return undefined;
  }
}
