// A private unbound: the recursive resolver Pebble's VA asks for DNS-01, so a TXT query for
// `_acme-challenge.<customer host>` follows the customer's CNAME (served by challtestsrv) into
// switchyard's challenge zone (served by switchyard), as a public resolver would.
//
//   unbound -d -c <conf>: 127.0.0.1:<port> UDP+TCP; forward-zones per zone; no cache worth the
//   name (records change under the tests), no DNSSEC, no remote control, no root hints needed.

import fs from "node:fs";
import path from "node:path";
import { requireBinary } from "./binaries.js";
import { freeTcpUdpPort, LOOPBACK } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";
import { Resolver } from "node:dns/promises";

export interface UnboundOptions {
  /** A free UDP+TCP port to listen on (e.g. one given to Pebble before unbound starts). */
  port?: number;
  /** Zone → "127.0.0.1:port" of the server answering it. */
  forwardZones: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface Unbound {
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly address: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

function configText(dir: string, port: number, forwardZones: Record<string, string>): string {
  const zones = Object.entries(forwardZones).map(([zone, server]) => {
    const [host, serverPort] = server.split(":");
    return ["forward-zone:", `  name: "${zone}."`, `  forward-addr: ${host}@${serverPort}`, ""].join("\n");
  });
  return [
    "server:",
    `  interface: ${LOOPBACK}`,
    `  port: ${port}`,
    "  do-ip4: yes",
    "  do-ip6: no",
    "  do-udp: yes",
    "  do-tcp: yes",
    "  do-daemonize: no",
    "  use-syslog: no",
    '  logfile: ""',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${path.join(dir, "unbound.pid")}"`,
    "  access-control: 127.0.0.0/8 allow",
    "  do-not-query-localhost: no",
    '  module-config: "iterator"',
    "  qname-minimisation: no",
    "  cache-max-ttl: 0",
    "  cache-max-negative-ttl: 0",
    "  num-threads: 1",
    "  verbosity: 1",
    "",
    "remote-control:",
    "  control-enable: no",
    "",
    ...zones,
  ].join("\n");
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  const unboundBin = requireBinary("unbound", "unbound");
  const baseDir = await makeTempDir("unbound");
  try {
    const port = opts.port ?? (await freeTcpUdpPort());
    const configFile = path.join(baseDir, "unbound.conf");
    await fs.promises.writeFile(configFile, configText(baseDir, port, opts.forwardZones));
    const proc = new ManagedProcess({
      name: "unbound",
      command: unboundBin,
      args: ["-d", "-c", configFile],
      env: { PATH: process.env.PATH, HOME: baseDir },
      cwd: baseDir,
      logFile: path.join(baseDir, "unbound.log"),
    });
    proc.start();
    // Ready once it answers: any query about a forwarded zone gets a response (even SERVFAIL).
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([`${LOOPBACK}:${port}`]);
    const zone = Object.keys(opts.forwardZones)[0] ?? "localhost";
    try {
      await proc.waitUntil(
        `unbound on ${LOOPBACK}:${port}`,
        async () =>
          resolver.resolveTxt(`ready.${zone}`).then(
            () => true,
            (error: NodeJS.ErrnoException) => error.code !== "ETIMEOUT" && error.code !== "ECONNREFUSED",
          ),
        opts.readyTimeoutMs ?? 10_000,
      );
    } catch (error) {
      await proc.stop().catch(() => undefined);
      throw error;
    }
    return {
      port,
      address: `${LOOPBACK}:${port}`,
      get pid() {
        return proc.pid;
      },
      process: proc,
      stop: async () => {
        await proc.stop();
        await removeTempDir(baseDir);
      },
      logs: (maxLines?: number) => proc.logs(maxLines),
    };
  } catch (error) {
    await removeTempDir(baseDir);
    throw error;
  }
}
