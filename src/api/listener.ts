import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";

type Handler = (req: any, res: any) => void;

/**
 * One TCP port that speaks both HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, which
 * is what gRPC clients use). Node's http2 server only offers HTTP/1.1 fallback over TLS, so we
 * look at the first bytes of each connection: the HTTP/2 preface starts with "PRI", which no
 * HTTP/1.1 method does.
 */
export function createDualProtocolServer(handler: Handler): net.Server {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
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
