import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

// The Prometheus scrape endpoint of one process (switchyard serve, the agent, the gateway):
// GET /metrics on its own port, apart from the API so that a firewall rule, not a token, decides
// who reads it. Loopback unless the operator binds it elsewhere.

export interface MetricsListen {
  host: string;
  port: number;
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(registry: Registry, listen: MetricsListen): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(path === "/metrics" ? 405 : 404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      () => res.writeHead(500).end("metrics collection failed\n"),
    );
  });
  // A scrape is one short request; nothing may hold a connection open for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** SWITCHYARD_METRICS_LISTEN-style value: "host:port", ":port" or "port" (loopback); "" or "off" = no endpoint. */
export function parseMetricsListen(raw: string, variable: string, problems: string[]): MetricsListen | undefined {
  const value = raw.trim();
  if (value === "" || value.toLowerCase() === "off") return undefined;
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    problems.push(`${variable}: "${value}" must be a port, ":port" or "host:port" (example: 127.0.0.1:9464), or off`);
    return undefined;
  }
  return { host: match[1] || "127.0.0.1", port };
}
