// The gateway's certificate endpoint: Caddy's tls.get_certificate.http asks it, at TLS handshake
// time, for the certificate of the server name (GET …?server_name=<sni>), and it asks switchyard
// (ClusterService.GetGatewayCertificate, with the gateway's region credential). 200 = PEM chain
// + private key, 204 = not ours (Caddy then fails the handshake for that name). The key passes
// through memory only: nothing here logs it, caches it or writes it down.
//
// It listens on loopback under a path with a random secret, so only the Caddy this gateway
// configured (whose config carries the URL, never persisted by Caddy) can ask. Port and secret
// are kept in the state directory (mode 0600) and reused by a restarted gateway, so its
// Caddy config stays the same and a restart costs no reload.

import { randomBytes } from "node:crypto";
import path from "node:path";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import { readJson, writeJsonAtomic } from "../cluster/client/files.js";

const CALL_TIMEOUT_MS = 5_000;
// Longer than Go's idle-connection timeout (90 s), so Caddy's HTTP client, not this server,
// closes idle connections: a server-side close racing a reused connection fails a handshake.
const KEEP_ALIVE_TIMEOUT_MS = 120_000;

/** One lookup, asked again once when switchyard was momentarily unreachable. */
async function lookup(client: Client<typeof ClusterService>, region: string, hostname: string) {
  try {
    return await client.getGatewayCertificate({ region, hostname }, { timeoutMs: CALL_TIMEOUT_MS });
  } catch (error) {
    if (ConnectError.from(error).code !== Code.Unavailable) throw error;
    return client.getGatewayCertificate({ region, hostname }, { timeoutMs: CALL_TIMEOUT_MS });
  }
}

export interface CertificateEndpoint {
  /** The URL to give Caddy (secret path included). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startCertificateEndpoint(opts: { listen: string; stateDir: string; client: Client<typeof ClusterService>; region: string; log: Logger }): Promise<CertificateEndpoint> {
  const file = path.join(opts.stateDir, "certificate-endpoint.json");
  const kept = await readJson<{ port: number; secret: string; listen: string }>(file).catch(() => undefined);
  const reuse = kept?.listen === opts.listen ? kept : undefined;
  const secret = reuse?.secret ?? randomBytes(24).toString("hex");
  const pathname = `/certificate/${secret}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (req.method !== "GET" || url.pathname !== pathname) {
      res.writeHead(404).end();
      return;
    }
    const serverName = url.searchParams.get("server_name") ?? "";
    if (serverName === "") {
      res.writeHead(204).end();
      return;
    }
    lookup(opts.client, opts.region, serverName).then(
      (answer) => {
        res.writeHead(200, { "content-type": "application/x-pem-file", "cache-control": "no-store" });
        res.end(`${answer.pemChain.trim()}\n${answer.privateKeyPem.trim()}\n`);
      },
      (error: unknown) => {
        const connectError = ConnectError.from(error);
        if (connectError.code === Code.NotFound || connectError.code === Code.InvalidArgument) {
          opts.log.debug({ serverName }, "no certificate for this server name");
          res.writeHead(204).end();
          return;
        }
        opts.log.warn({ serverName, code: Code[connectError.code], error: connectError.rawMessage }, "certificate lookup failed; the handshake fails");
        res.writeHead(502).end();
      },
    );
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  const [host, port] = splitHostPort(opts.listen);
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  if (port === 0 && reuse) await listen(reuse.port).catch(() => listen(0));
  else await listen(port);
  const address = server.address() as AddressInfo;
  await writeJsonAtomic(file, { listen: opts.listen, port: address.port, secret });
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}${pathname}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function splitHostPort(text: string): [string, number] {
  const at = text.lastIndexOf(":");
  return [text.slice(0, at).replace(/^\[|\]$/g, ""), Number(text.slice(at + 1))];
}
