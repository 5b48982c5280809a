import dgram from "node:dgram";
import net from "node:net";
import * as dnsPacket from "dns-packet";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import { answerChallengeQuery, type ZoneFacts } from "./challengeZoneAnswers.js";

// The authoritative DNS server of the ACME challenge zone, on UDP and TCP of one port. It answers
// from MySQL (the pending DNS-01 rows of acme_challenges), so every replica answers alike.
//
//   datagram / length-prefixed TCP message ──decode──► answerChallengeQuery (pure) ──encode──► reply
//       not a query (garbage, a response): no reply        MySQL slower than lookupTimeoutMs: SERVFAIL
//
// Nothing a client sends can crash the process: every failure becomes SERVFAIL or no reply.

/** How long one answer may wait for MySQL before it is a SERVFAIL (the resolver asks again). */
const LOOKUP_TIMEOUT_MS = 2000;
/**
 * MySQL lookups outstanding at once (a timed-out one counts until MySQL answers it); beyond that
 * a query gets SERVFAIL at once rather than queueing on the pool without end.
 */
const MAX_OUTSTANDING_LOOKUPS = 256;
/** A TCP client idle this long is disconnected (RFC 7766 suggests seconds, not minutes). */
const TCP_IDLE_MS = 10_000;
const SERVFAIL = 2;
const RECURSION_DESIRED = 1 << 8;

export interface ChallengeZoneServerOptions {
  db: Kysely<Database>;
  /** The zone apex, e.g. `acme.switchyard.app` (lower-cased here). */
  zone: string;
  /** Address to bind, IPv4 or IPv6 (e.g. 127.0.0.1). */
  host: string;
  /** UDP and TCP port; 0 = any free port on both (see `port` of the result). */
  port: number;
  logger: Logger;
  /** Bound of the MySQL wait of one query. Default 2000 ms. */
  lookupTimeoutMs?: number;
}

export interface ChallengeZoneServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startChallengeZoneServer(opts: ChallengeZoneServerOptions): Promise<ChallengeZoneServer> {
  const zone = opts.zone.toLowerCase().replace(/\.$/, "");
  const facts: ZoneFacts = { zone, nameServer: `ns.${zone}` };
  const lookupTimeoutMs = opts.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS;
  const log = opts.logger.child({ component: "challenge-zone-dns" });
  let outstanding = 0;
  const lookup = async (name: string) => {
    if (outstanding >= MAX_OUTSTANDING_LOOKUPS) throw new Error(`${outstanding} MySQL lookups outstanding`);
    outstanding++;
    try {
      const rows = await opts.db
        .selectFrom("acme_challenges")
        .select("txt_value")
        .where("dns_name", "=", name)
        .where("type", "=", "dns-01")
        .where("status", "=", "pending")
        .execute();
      return rows.flatMap((r) => (r.txt_value ? [r.txt_value] : []));
    } finally {
      outstanding--;
    }
  };

  const servfail = (query: dnsPacket.Packet) =>
    dnsPacket.encode({ id: query.id ?? 0, type: "response", flags: SERVFAIL | ((query.flags ?? 0) & RECURSION_DESIRED), questions: query.questions ?? [] });

  /** The encoded answer to one encoded query; undefined for a packet that is not a DNS query. Never rejects. */
  async function respond(message: Buffer): Promise<Buffer | undefined> {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    if (query.type !== "query") return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from MySQL within ${lookupTimeoutMs} ms`)), lookupTimeoutMs);
      });
      return dnsPacket.encode(await Promise.race([answerChallengeQuery(query, facts, lookup), timeout]));
    } catch (error) {
      log.warn({ err: error, name: query.questions?.[0]?.name }, "challenge zone lookup failed: SERVFAIL");
      return encodeOrNothing(() => servfail(query));
    } finally {
      clearTimeout(timer);
    }
  }
  function encodeOrNothing(encode: () => Buffer): Buffer | undefined {
    try {
      return encode();
    } catch {
      return undefined;
    }
  }

  const sockets = new Set<net.Socket>();
  const { udp, tcp } = await bindBoth(opts.host, opts.port, {
    onDatagram(udp, message, peer) {
      void respond(message).then((answer) => {
        if (!answer) return;
        try {
          udp.send(answer, peer.port, peer.address, (error) => error && log.debug({ err: error }, "challenge zone: UDP send failed"));
        } catch {
          // closed meanwhile (shutdown): the resolver asks another server or again
        }
      });
    },
    // DNS over TCP: every message is prefixed by its length (RFC 1035 §4.2.2); answers may go
    // back out of order (RFC 7766 §7), each carrying its query's id.
    onConnection(socket) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      let pending = Buffer.alloc(0);
      socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
      socket.on("error", () => socket.destroy());
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
          pending = pending.subarray(2 + message.length);
          void respond(message).then((answer) => {
            if (!answer || socket.destroyed) return;
            const length = Buffer.alloc(2);
            length.writeUInt16BE(answer.length);
            socket.write(Buffer.concat([length, answer]));
          });
        }
      });
    },
    onError: (error) => log.warn({ err: error }, "challenge zone: socket error"),
  });
  const port = udp.address().port;
  log.info({ zone, address: `${opts.host}:${port}` }, "ACME challenge zone DNS listening (UDP and TCP)");

  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= (async () => {
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), tcpClosed]);
      })();
      return closed;
    },
  };
}

interface Handlers {
  onDatagram(udp: dgram.Socket, message: Buffer, peer: dgram.RemoteInfo): void;
  onConnection(socket: net.Socket): void;
  /** Errors after binding (an 'error' without a listener would end the process). */
  onError(error: Error): void;
}

/** A UDP socket and a TCP server on the same port; with port 0, a port free for both. */
async function bindBoth(host: string, port: number, handlers: Handlers): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    udp.on("message", (message, peer) => handlers.onDatagram(udp, message, peer));
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind({ port, address: host, exclusive: true }, () => {
        udp.off("error", reject);
        udp.on("error", handlers.onError);
        resolve();
      });
    });
    const tcp = net.createServer(handlers.onConnection);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ port: udp.address().port, host, exclusive: true }, () => {
          tcp.off("error", reject);
          tcp.on("error", handlers.onError);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (error) {
      const taken = udp.address().port;
      udp.close();
      // Port 0 gave a UDP port whose TCP twin is taken: try another.
      if (port === 0 && attempt < 10) continue;
      throw new Error(`challenge zone DNS: TCP ${host}:${taken} is not free: ${(error as Error).message}`, { cause: error });
    }
  }
}
