// Loopback networking helpers (dev stack and test harness): free ports, TCP probes, and a small
// HTTP client that keeps a custom Host header (Node's fetch drops it) and can trust a given CA.

import dgram from "node:dgram";
import http from "node:http";
import https from "node:https";
import net from "node:net";

export const LOOPBACK = "127.0.0.1";

/** A TCP port that was free on 127.0.0.1 a moment ago (bind :0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("freePort: no port assigned"))));
    });
  });
}

/** True if `port` can be bound on `host` right now (bind, then close at once). */
export function portFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `preferred` if it is free on `host`, else the next free port above it (up to 100 tries), else
 * any free port. Ports in `taken` (picked for other listeners of the same stack) are skipped.
 */
export async function choosePort(preferred: number, taken: ReadonlySet<number> = new Set(), host = LOOPBACK): Promise<number> {
  for (let port = preferred; port < Math.min(preferred + 100, 65536); port++) {
    if (!taken.has(port) && (await portFree(port, host))) return port;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
  throw new Error(`choosePort: no free port near ${preferred}`);
}

/** True if `port` can be bound for UDP on 127.0.0.1 right now. */
export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: LOOPBACK, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** A port free for both TCP and UDP on 127.0.0.1 (for DNS servers). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (await udpPortFree(port)) return port;
  }
  throw new Error("freeTcpUdpPort: found no port free for both TCP and UDP in 20 attempts");
}

/** Resolves true if a TCP connection to host:port succeeds within timeoutMs. */
export function canConnect(port: number, host = LOOPBACK, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  method?: string;
  /** Sent as-is, including Host (unlike fetch). */
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** PEM of the CA to trust for https URLs. */
  ca?: string | string[];
  /** TLS server name (SNI) for https URLs, when it differs from the URL host. */
  servername?: string;
  /** Whole-request deadline. Default 5000 ms. */
  timeoutMs?: number;
}

/** One HTTP(S) request with a hard deadline; the body is read as UTF-8. */
export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const common = {
      method: opts.method ?? "GET",
      headers: opts.headers,
      agent: false as const,
    };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", fail);
    };
    const req =
      target.protocol === "https:"
        ? https.request(target, { ...common, ca: opts.ca, servername: opts.servername }, onResponse)
        : http.request(target, common, onResponse);
    const timer = setTimeout(() => req.destroy(new Error(`${common.method} ${url}: no response within ${timeoutMs} ms`)), timeoutMs);
    function fail(error: Error) {
      clearTimeout(timer);
      reject(error);
    }
    req.on("error", fail);
    req.end(opts.body);
  });
}

/** True for the "port already taken" failures of the programs the harness runs. */
export function looksLikePortClash(text: string): boolean {
  return /address already in use|EADDRINUSE|Do you already have another (mysqld|mariadbd) server running|bind: address/i.test(text);
}
