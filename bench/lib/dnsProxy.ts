import dgram from "node:dgram";
import type { AddressInfo } from "node:net";

/**
 * A UDP DNS forwarder on 127.0.0.1 that counts the queries passing through it per second, so a
 * benchmark can see how hard switchyard hits the DNS. Each query is forwarded to `upstream` on
 * its own socket and the answer relayed back (2 s limit).
 */
export async function countingDnsProxy(): Promise<{ address: string; setUpstream(port: number): void; perSecond(): Map<number, number>; close(): void }> {
  let upstreamPort = 0;
  const counts = new Map<number, number>();
  const server = dgram.createSocket("udp4");
  server.on("message", (query, client) => {
    const second = Math.floor(Date.now() / 1000);
    counts.set(second, (counts.get(second) ?? 0) + 1);
    const relay = dgram.createSocket("udp4");
    const timer = setTimeout(() => relay.close(), 2000);
    relay.on("message", (answer) => {
      clearTimeout(timer);
      server.send(answer, client.port, client.address);
      relay.close();
    });
    relay.on("error", () => relay.close());
    relay.send(query, upstreamPort, "127.0.0.1");
  });
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    setUpstream: (port) => (upstreamPort = port),
    perSecond: () => counts,
    close: () => server.close(),
  };
}
