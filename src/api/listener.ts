import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";

type Handler = (req: any, res: any) => void;

export interface ListenerTimeouts {
  /** How long a connection may take to send its first request's headers (or open its first HTTP/2 stream). */
  headerTimeoutMs: number;
  /** How long an HTTP/2 session may stay open without a stream. */
  idleTimeoutMs: number;
}

/**
 * One TCP port that speaks both HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, which
 * is what gRPC clients use). Node's http2 server only offers HTTP/1.1 fallback over TLS, so we
 * look at the first bytes of each connection: the HTTP/2 preface starts with "PRI", which no
 * HTTP/1.1 method does.
 *
 * Against slow-loris clients every connection is bounded: no first byte within the header
 * timeout closes it, HTTP/1.1 headers must be complete within it, an HTTP/2 session must open a
 * stream within it and may idle without one for the idle timeout. Long server streams (watches)
 * are not cut: the bounds apply only while no request is in flight.
 */
export function createDualProtocolServer(handler: Handler, timeouts: ListenerTimeouts = { headerTimeoutMs: 10_000, idleTimeoutMs: 60_000 }): net.Server {
  const { headerTimeoutMs, idleTimeoutMs } = timeouts;
  const h1 = http.createServer(
    { headersTimeout: headerTimeoutMs, requestTimeout: 0, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headerTimeoutMs / 2))) },
    handler,
  );
  // Node starts enforcing headersTimeout when a server emits "listening"; this one never listens
  // itself (connections are handed to it), so it is told it does.
  h1.emit("listening");
  const h2 = http2.createServer({}, handler);
  h2.on("session", (session) => boundIdleSession(session, headerTimeoutMs, idleTimeoutMs));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // Not a byte within the header timeout: a slow-loris or a dead peer.
    socket.setTimeout(headerTimeoutMs, () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        h2.emit("connection", replaying(socket, chunk));
      } else {
        socket.unshift(chunk);
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  server.on("close", () => {
    h1.close();
    h2.close();
  });
  // Lets closeServer() end keep-alive and h2 sessions that the inner servers own.
  Object.assign(server, { closeAllConnections: () => sockets.forEach((socket) => socket.destroy()) });
  return server;
}

/** Closes an HTTP/2 session that opens no stream within `firstMs`, or has none open for `idleMs`. */
function boundIdleSession(session: http2.ServerHttp2Session, firstMs: number, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => session.destroy(), firstMs);
  session.on("stream", (stream) => {
    open++;
    clearTimeout(timer);
    timer = undefined;
    stream.once("close", () => {
      if (--open === 0 && !session.destroyed) timer = setTimeout(() => session.close(), idleMs);
    });
  });
  session.once("close", () => clearTimeout(timer));
}

/**
 * The HTTP/2 session reads from the socket's native handle, which would skip the bytes we
 * already consumed to sniff the protocol. A plain Duplex over the socket has no native handle,
 * so http2 reads it as a JS stream, starting with the replayed first chunk.
 */
function replaying(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(first);
  socket.on("data", (data: Buffer) => {
    if (!duplex.push(data)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  return duplex;
}

/** Listens on host:port and resolves with the bound port (useful with port 0). */
export function listen(server: net.Server | http2.Http2Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Closes a server and every connection it still holds, bounded by `timeoutMs`. */
export function closeServer(server: net.Server | http2.Http2Server, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
