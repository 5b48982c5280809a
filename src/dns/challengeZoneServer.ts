import dgram from "node:dgram";
import net from "node:net";
import * as dnsPacket from "dns-packet";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import { answerChallengeQuery, type ZoneFacts } from "./challengeZoneAnswers.js";

// The authoritative DNS server of the ACME challenge zone, on UDP and TCP of one port. It answers
// from MySQL (the pending DNS-01 rows of acme_challenges), so every replica answers alike.

/** How long one answer may wait for MySQL before it is a SERVFAIL (the resolver asks again). */
const LOOKUP_TIMEOUT_MS = 2000;
const SERVFAIL = 2;

export interface ChallengeZoneServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startChallengeZoneServer(opts: { db: Kysely<Database>; zone: string; host: string; port: number; logger: Logger }): Promise<ChallengeZoneServer> {
  const facts: ZoneFacts = { zone: opts.zone, nameServer: `ns.${opts.zone}` };
  const lookup = async (name: string) => {
    const rows = await opts.db
      .selectFrom("acme_challenges")
      .select("txt_value")
      .where("dns_name", "=", name)
      .where("type", "=", "dns-01")
      .where("status", "=", "pending")
      .execute();
    return rows.flatMap((r) => (r.txt_value ? [r.txt_value] : []));
  };

  /** The encoded answer to one encoded query; undefined for a packet that is not a DNS query. */
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
        timer = setTimeout(() => reject(new Error(`no answer from MySQL within ${LOOKUP_TIMEOUT_MS} ms`)), LOOKUP_TIMEOUT_MS);
      });
      return dnsPacket.encode(await Promise.race([answerChallengeQuery(query, facts, lookup), timeout]));
    } catch (error) {
      opts.logger.warn({ err: error, name: query.questions?.[0]?.name }, "challenge zone lookup failed");
      return dnsPacket.encode({ id: query.id ?? 0, type: "response", flags: SERVFAIL, questions: query.questions ?? [] });
    } finally {
      clearTimeout(timer);
    }
  }

  const udp = dgram.createSocket("udp4");
  udp.on("message", (message, peer) => {
    void respond(message).then((answer) => {
      if (answer) udp.send(answer, peer.port, peer.address);
    });
  });
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(opts.port, opts.host, () => resolve());
  });
  const port = udp.address().port;

  // DNS over TCP: every message is prefixed by its length (RFC 1035 §4.2.2).
  const tcp = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy());
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
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, opts.host, () => resolve());
  });
  opts.logger.info({ zone: opts.zone, address: `${opts.host}:${port}` }, "ACME challenge zone served");

  return {
    port,
    close: async () => {
      await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
    },
  };
}
