// A private unbound: the recursive resolver Pebble's VA asks for DNS-01, so a TXT query for
// `_acme-challenge.<customer host>` follows the customer's CNAME (served by challtestsrv) into
// switchyard's challenge zone (served by switchyard), as a public resolver would.
//
//   unbound -d -c <tempdir>/unbound.conf     127.0.0.1:<port>, UDP and TCP
//     forward-zone per zone → 127.0.0.1:<server port>     (do-not-query-localhost: no)
//     no cache worth the name (records change under the tests), iterator only (no DNSSEC
//     validation, no trust anchor), no remote control, no chroot, no user switch, no root-hints
//     file; pidfile, config and log (stderr) in the temp dir.
//   ready: it answers a TXT it holds itself (local-data), so readiness needs none of the
//   forwarded servers to be up yet.
//
// stop() SIGTERMs it by pid (SIGKILL after a grace) and removes the temp dir; a test that fails
// or never calls stop() has it SIGKILLed by the process registry's exit hook (src/dev/process.ts).

import fs from "node:fs";
import { Resolver } from "node:dns/promises";
import net from "node:net";
import path from "node:path";
import { requireBinary } from "./binaries.js";
import { freeTcpUdpPort, LOOPBACK, looksLikePortClash } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

export interface UnboundOptions {
  /** A free UDP+TCP port to listen on (e.g. one given to Pebble before unbound starts). Default: a free one. */
  port?: number;
  /**
   * Zone → "127.0.0.1:port" of the server answering it, e.g. the customer's zones → challtestsrv
   * and `acme.<apex>` → switchyard's challenge-zone server. The servers need not be up yet.
   */
  forwardZones: Record<string, string>;
  /** Readiness deadline. Default 10 000 ms (it is ready in well under a second). */
  readyTimeoutMs?: number;
}

export interface Unbound {
  readonly port: number;
  /** "127.0.0.1:PORT", for dns.Resolver#setServers and for pebble's -dnsserver. */
  readonly address: string;
  readonly pid: number;
  /** Every pid this instance has had. */
  readonly pids: readonly number[];
  /** Temp dir holding the config, the pidfile and the log; removed by stop(). */
  readonly baseDir: string;
  /** Milliseconds from spawn until it answered. */
  readonly startMs: number;
  readonly process: ManagedProcess;
  /** SIGTERM (SIGKILL after a grace), wait for the exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

const READY_NAME = "ready.switchyard-harness.test";
const READY_VALUE = "unbound-ready";
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

function forwardZone(zone: string, server: string): string {
  const name = zone.toLowerCase().replace(/\.$/, "");
  if (!DNS_NAME.test(name)) throw new Error(`startUnbound: "${zone}" is not a zone name`);
  const match = /^(.+):(\d{1,5})$/.exec(server);
  if (!match || net.isIPv4(match[1]!) === false) throw new Error(`startUnbound: forward server "${server}" of ${zone} is not IPv4:port`);
  return [
    "forward-zone:",
    `  name: "${name}."`,
    `  forward-addr: ${match[1]}@${match[2]}`,
    // Every answer is asked again: the tests change records between queries.
    "  forward-no-cache: yes",
    "",
  ].join("\n");
}

function configText(dir: string, port: number, forwardZones: Record<string, string>): string {
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
    "  log-servfail: yes",
    "  verbosity: 1",
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${path.join(dir, "unbound.pid")}"`,
    "  access-control: 127.0.0.0/8 allow",
    // The forwarded servers all listen on 127.0.0.1.
    "  do-not-query-localhost: no",
    // Iterator only: no validator, so no DNSSEC validation and no trust anchor to read or fetch.
    '  module-config: "iterator"',
    "  qname-minimisation: no",
    "  cache-max-ttl: 0",
    "  cache-max-negative-ttl: 0",
    // A forwarded server that was not up yet (or was restarted) is asked again at once.
    "  infra-host-ttl: 1",
    "  infra-keep-probing: yes",
    "  num-threads: 1",
    // Readiness: a name it answers itself.
    `  local-zone: "${READY_NAME}." static`,
    `  local-data: '${READY_NAME}. 0 IN TXT "${READY_VALUE}"'`,
    "",
    "remote-control:",
    "  control-enable: no",
    "",
    ...Object.entries(forwardZones).map(([zone, server]) => forwardZone(zone, server)),
  ].join("\n");
}

export async function startUnbound(opts: UnboundOptions): Promise<Unbound> {
  const unboundBin = requireBinary("unbound", "unbound");
  const baseDir = await makeTempDir("unbound");
  try {
    for (let attempt = 1; ; attempt++) {
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
      const t0 = performance.now();
      proc.start();
      const resolver = new Resolver({ timeout: 250, tries: 1 });
      resolver.setServers([`${LOOPBACK}:${port}`]);
      try {
        await proc.waitUntil(
          `unbound answering on ${LOOPBACK}:${port}`,
          async () => (await resolver.resolveTxt(READY_NAME)).flat().includes(READY_VALUE),
          opts.readyTimeoutMs ?? 10_000,
        );
      } catch (error) {
        await proc.stop().catch(() => undefined);
        // A port picked here may have been taken meanwhile; a port the caller chose is kept.
        if (opts.port === undefined && attempt < 3 && looksLikePortClash(proc.logs(30))) continue;
        throw error;
      }
      const startMs = performance.now() - t0;
      let stopped: Promise<void> | undefined;
      return {
        port,
        address: `${LOOPBACK}:${port}`,
        get pid() {
          return proc.pid;
        },
        get pids() {
          return [...proc.pids];
        },
        baseDir,
        startMs,
        process: proc,
        stop() {
          stopped ??= (async () => {
            await proc.stop();
            await removeTempDir(baseDir);
          })();
          return stopped;
        },
        logs: (maxLines?: number) => proc.logs(maxLines),
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
