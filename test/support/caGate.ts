// A TLS front for Pebble that a test can close or make answer "rate limited", so the CA failing
// is a real network condition for switchyard. Requests are forwarded with their Host header, so
// Pebble writes this gate's address into every URL it returns and checks JWS URLs against it.
import https from "node:https";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import type { Pebble } from "../harness/index.js";

export interface CaRequest {
  method: string;
  path: string;
  /** The account URL a signed request names (its JWS kid), when it names one. */
  kid?: string;
  at: number;
  status: number;
}

export interface CaGate {
  /** https://127.0.0.1:PORT/dir — give this to switchyard as its ACME directory. */
  readonly directoryUrl: string;
  /** Every request seen, oldest first. */
  readonly requests: CaRequest[];
  /** Forward everything (the default). */
  open(): void;
  /** Drop every connection, like a CA that is down. */
  close(): void;
  /** Answer the next `count` new-order requests with 429 and Retry-After: `seconds`. */
  rateLimitNewOrders(count: number, seconds: number): void;
  stop(): Promise<void>;
}

const NEW_ORDER_PATH = "/order-plz";

function kidOf(body: Buffer): string | undefined {
  try {
    const jws = JSON.parse(body.toString("utf8")) as { protected?: string };
    if (!jws.protected) return undefined;
    return (JSON.parse(Buffer.from(jws.protected, "base64url").toString("utf8")) as { kid?: string }).kid;
  } catch {
    return undefined;
  }
}

export async function startCaGate(pebble: Pebble): Promise<CaGate> {
  let mode: "open" | "closed" = "open";
  let rateLimited = { count: 0, seconds: 0 };
  const requests: CaRequest[] = [];
  const target = new URL(pebble.directoryUrl);

  const server = https.createServer({ cert: fs.readFileSync(pebble.tlsFiles.cert), key: fs.readFileSync(pebble.tlsFiles.key) }, (req, res) => {
    if (mode === "closed") {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: CaRequest = { method: req.method ?? "GET", path: req.url ?? "/", kid: kidOf(body), at: Date.now(), status: 0 };
      requests.push(seen);
      if (req.method === "POST" && req.url === NEW_ORDER_PATH && rateLimited.count > 0) {
        rateLimited.count--;
        seen.status = 429;
        res.writeHead(429, { "content-type": "application/problem+json", "retry-after": String(rateLimited.seconds) });
        res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new orders recently (test gate)", status: 429 }));
        return;
      }
      const upstream = https.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, ca: pebble.caCertPem, timeout: 10_000 },
        (answer) => {
          seen.status = answer.statusCode ?? 0;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    requests,
    open: () => {
      mode = "open";
    },
    close: () => {
      mode = "closed";
      server.closeAllConnections();
    },
    rateLimitNewOrders: (count, seconds) => {
      rateLimited = { count, seconds };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
