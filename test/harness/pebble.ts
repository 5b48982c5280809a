// Pebble (ACME test CA) plus pebble-challtestsrv (the "customer's DNS"), both on loopback.
//
//   openssl: test CA ──signs──► pebble's HTTPS cert (localhost, 127.0.0.1)   [Debian ships none]
//   challtestsrv: -dns01 127.0.0.1:<dns>  -management 127.0.0.1:<mgmt>      (HTTP/TLS-ALPN servers off)
//   pebble: -config <json> -dnsserver 127.0.0.1:<dns>
//           ACME on https://127.0.0.1:<port>/dir, management (roots, intermediates) on another port;
//           HTTP-01 / TLS-ALPN-01 validation connects to <resolved ip>:httpPort / :tlsPort.
//
// The ACME client must trust `caCertPem` (the CA of pebble's HTTPS listener). Certificates that
// pebble issues chain to a root generated at each pebble start: fetch it from
// `${managementUrl}/roots/0` (also with `caCertPem`).

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { requireBinary } from "./binaries.js";
import { canConnect, freePort, freeTcpUdpPort, httpRequest, LOOPBACK, looksLikePortClash } from "./net.js";
import { ManagedProcess, makeTempDir, removeTempDir } from "./process.js";

const execFileAsync = promisify(execFile);

export interface PebbleOptions {
  /** Port pebble's VA connects to for HTTP-01 validation. Default: a free port (nothing served). */
  httpPort?: number;
  /** Port pebble's VA connects to for TLS-ALPN-01 validation. Default: a free port. */
  tlsPort?: number;
  /** PEBBLE_VA_ALWAYS_VALID=1: every challenge validates without being checked. */
  alwaysValid?: boolean;
  /**
   * Port of a resolver on 127.0.0.1 that pebble's VA asks (e.g. unbound following a CNAME from the
   * customer's zone into switchyard's challenge zone). Default: challtestsrv directly.
   */
  resolverPort?: number;
  /** Lifetime of the certificates pebble issues (its certificateValidityPeriod); default: pebble's (5 years). */
  certificateLifetimeSeconds?: number;
  /** Extra PEBBLE_* variables (e.g. PEBBLE_AUTHZREUSE, PEBBLE_CHAIN_LENGTH). */
  env?: Record<string, string>;
  /** Readiness deadline per start. Default 10 000 ms. */
  readyTimeoutMs?: number;
}

export interface ChallTestSrv {
  /** http://127.0.0.1:PORT — challtestsrv's management API. */
  readonly managementUrl: string;
  /** UDP+TCP DNS port answering with the mock data below (default A answer: 127.0.0.1). */
  readonly dnsPort: number;
  /** "127.0.0.1:PORT", for dns.Resolver#setServers and for the code under test. */
  readonly dnsServer: string;
  readonly pid: number;
  readonly process: ManagedProcess;
  /** Adds A records for host. */
  addA(host: string, ...addresses: string[]): Promise<void>;
  clearA(host: string): Promise<void>;
  addAaaa(host: string, ...addresses: string[]): Promise<void>;
  clearAaaa(host: string): Promise<void>;
  /** Appends one TXT value for host (existing values are kept). */
  addTxt(host: string, value: string): Promise<void>;
  /** Replaces every TXT value of host by `value`. */
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  /** host CNAME target. */
  addCname(host: string, target: string): Promise<void>;
  clearCname(host: string): Promise<void>;
  addCaa(host: string, policies: Array<{ tag: string; value: string }>): Promise<void>;
  clearCaa(host: string): Promise<void>;
  /** Answer SERVFAIL for every query about host. */
  setServfail(host: string): Promise<void>;
  clearServfail(host: string): Promise<void>;
  /** Default answer for A queries without a mock ("" = none). */
  setDefaultIpv4(ip: string): Promise<void>;
  logs(maxLines?: number): string;
}

export interface Pebble {
  /** https://127.0.0.1:PORT/dir */
  readonly directoryUrl: string;
  /** PEM of the CA that signed pebble's HTTPS certificate: trust it in the ACME client. */
  readonly caCertPem: string;
  /** Files of pebble's HTTPS certificate and key (for a test server that stands in front of it). */
  readonly tlsFiles: { cert: string; key: string };
  /** https://127.0.0.1:PORT — pebble's management API (/roots/0, /intermediates/0, …). */
  readonly managementUrl: string;
  readonly port: number;
  readonly httpPort: number;
  readonly tlsPort: number;
  readonly pid: number;
  /** Pids of pebble and challtestsrv, every run. */
  readonly pids: readonly number[];
  readonly startMs: number;
  readonly baseDir: string;
  readonly process: ManagedProcess;
  readonly challtestsrv: ChallTestSrv;
  /** Fetches the PEM of the root pebble issues under (regenerated at every pebble start). */
  issuerRootPem(): Promise<string>;
  /** SIGKILL pebble and challtestsrv. */
  kill(): Promise<void>;
  /** Start both again on the same ports (pebble generates a new issuing root; DNS mocks are lost). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

/** Writes ca.pem/ca.key and a server cert.pem/key.pem for localhost and 127.0.0.1 into dir. */
async function makeTlsFiles(dir: string): Promise<{ caCert: string; cert: string; key: string }> {
  const openssl = requireBinary("openssl", "openssl");
  const file = (name: string) => path.join(dir, name);
  const run = async (args: string[]) => {
    try {
      await execFileAsync(openssl, args, { timeout: 20_000 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(`openssl ${args[0]} failed: ${e.message}\n${e.stderr ?? ""}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run([
    "req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "3650",
    "-subj", "/CN=Switchyard test Pebble HTTPS CA",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run(["req", "-new", ...ec, "-keyout", file("key.pem"), "-out", file("server.csr"), "-subj", "/CN=localhost"]);
  await fs.promises.writeFile(
    file("server.ext"),
    [
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "",
    ].join("\n"),
  );
  await run([
    "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
    "-CAcreateserial", "-out", file("cert.pem"), "-days", "3650", "-extfile", file("server.ext"),
  ]);
  return { caCert: file("ca.pem"), cert: file("cert.pem"), key: file("key.pem") };
}

/** challtestsrv keys TXT records by the exact query name, which always ends in a dot. */
function fqdn(host: string): string {
  return host.endsWith(".") ? host : `${host}.`;
}

export async function startPebble(opts: PebbleOptions = {}): Promise<Pebble> {
  const pebbleBin = requireBinary("pebble", "pebble");
  const challBin = requireBinary("pebble-challtestsrv", "pebble");
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const baseDir = await makeTempDir("pebble");
  try {
    const tls = await makeTlsFiles(baseDir);
    const caCertPem = await fs.promises.readFile(tls.caCert, "utf8");
    const httpPort = opts.httpPort ?? (await freePort());
    const tlsPort = opts.tlsPort ?? (await freePort());

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const managementPort = await freePort();
      const challManagementPort = await freePort();
      const dnsPort = await freeTcpUdpPort();
      const directoryUrl = `https://${LOOPBACK}:${port}/dir`;
      const managementUrl = `https://${LOOPBACK}:${managementPort}`;
      const challManagementUrl = `http://${LOOPBACK}:${challManagementPort}`;
      const configFile = path.join(baseDir, "pebble-config.json");
      await fs.promises.writeFile(
        configFile,
        JSON.stringify(
          {
            pebble: {
              listenAddress: `${LOOPBACK}:${port}`,
              managementListenAddress: `${LOOPBACK}:${managementPort}`,
              certificate: tls.cert,
              privateKey: tls.key,
              httpPort,
              tlsPort,
              ocspResponderURL: "",
              externalAccountBindingRequired: false,
              ...(opts.certificateLifetimeSeconds ? { certificateValidityPeriod: opts.certificateLifetimeSeconds } : {}),
            },
          },
          null,
          2,
        ),
      );

      const chall = new ManagedProcess({
        name: "pebble-challtestsrv",
        command: challBin,
        args: [
          "-management", `${LOOPBACK}:${challManagementPort}`,
          "-dns01", `${LOOPBACK}:${dnsPort}`,
          "-http01", "",
          "-https01", "",
          "-tlsalpn01", "",
          "-defaultIPv4", LOOPBACK,
          "-defaultIPv6", "",
        ],
        env: { PATH: process.env.PATH, HOME: baseDir },
        cwd: baseDir,
        logFile: path.join(baseDir, "pebble-challtestsrv.log"),
      });
      const pebble = new ManagedProcess({
        name: "pebble",
        command: pebbleBin,
        args: ["-config", configFile, "-dnsserver", `${LOOPBACK}:${opts.resolverPort ?? dnsPort}`],
        env: {
          PATH: process.env.PATH,
          HOME: baseDir,
          PEBBLE_VA_NOSLEEP: "1",
          PEBBLE_WFE_NONCEREJECT: "0",
          ...(opts.alwaysValid ? { PEBBLE_VA_ALWAYS_VALID: "1" } : {}),
          ...opts.env,
        },
        cwd: baseDir,
        logFile: path.join(baseDir, "pebble.log"),
      });

      const waitReady = async (): Promise<void> => {
        const deadline = performance.now() + readyTimeoutMs;
        const left = () => Math.max(1000, deadline - performance.now());
        await chall.waitUntil(`management ${challManagementUrl}`, () => canConnect(challManagementPort), left());
        await chall.waitUntil(`DNS on ${LOOPBACK}:${dnsPort}`, () => canConnect(dnsPort), left());
        await pebble.waitUntil(
          `ACME directory ${directoryUrl}`,
          async () => (await httpRequest(directoryUrl, { ca: caCertPem, timeoutMs: 1000 })).status === 200,
          left(),
        );
        await pebble.waitUntil(
          `management ${managementUrl}/roots/0`,
          async () => (await httpRequest(`${managementUrl}/roots/0`, { ca: caCertPem, timeoutMs: 1000 })).status === 200,
          left(),
        );
      };
      const startBoth = () => {
        chall.start();
        pebble.start();
      };
      const killBoth = async () => {
        await Promise.all([pebble.kill(), chall.kill()]);
      };

      let t0 = performance.now();
      startBoth();
      try {
        await waitReady();
      } catch (error) {
        await killBoth().catch(() => undefined);
        await Promise.all([pebble.stop(), chall.stop()]).catch(() => undefined);
        if (attempt < 3 && looksLikePortClash(`${pebble.logs(30)}\n${chall.logs(30)}`)) continue;
        throw error;
      }
      let startMs = performance.now() - t0;
      let stopped = false;

      const manage = async (endpoint: string, body: unknown) => {
        const res = await httpRequest(`${challManagementUrl}${endpoint}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          timeoutMs: 5000,
        });
        if (res.status !== 200) throw chall.failure(`POST ${endpoint} answered ${res.status}: ${res.body}`);
      };

      const challtestsrv: ChallTestSrv = {
        managementUrl: challManagementUrl,
        dnsPort,
        dnsServer: `${LOOPBACK}:${dnsPort}`,
        get pid() {
          return chall.pid;
        },
        process: chall,
        addA: (host, ...addresses) => manage("/add-a", { host: fqdn(host), addresses }),
        clearA: (host) => manage("/clear-a", { host: fqdn(host) }),
        addAaaa: (host, ...addresses) => manage("/add-aaaa", { host: fqdn(host), addresses }),
        clearAaaa: (host) => manage("/clear-aaaa", { host: fqdn(host) }),
        addTxt: (host, value) => manage("/set-txt", { host: fqdn(host), value }),
        async setTxt(host, value) {
          await manage("/clear-txt", { host: fqdn(host) });
          await manage("/set-txt", { host: fqdn(host), value });
        },
        clearTxt: (host) => manage("/clear-txt", { host: fqdn(host) }),
        addCname: (host, target) => manage("/set-cname", { host: fqdn(host), target: fqdn(target) }),
        clearCname: (host) => manage("/clear-cname", { host: fqdn(host) }),
        addCaa: (host, policies) => manage("/add-caa", { host: fqdn(host), policies }),
        clearCaa: (host) => manage("/clear-caa", { host: fqdn(host) }),
        setServfail: (host) => manage("/set-servfail", { host: fqdn(host) }),
        clearServfail: (host) => manage("/clear-servfail", { host: fqdn(host) }),
        setDefaultIpv4: (ip) => manage("/set-default-ipv4", { ip }),
        logs: (maxLines?: number) => chall.logs(maxLines),
      };

      return {
        directoryUrl,
        caCertPem,
        tlsFiles: { cert: tls.cert, key: tls.key },
        managementUrl,
        port,
        httpPort,
        tlsPort,
        baseDir,
        get pid() {
          return pebble.pid;
        },
        get pids() {
          return [...pebble.pids, ...chall.pids];
        },
        get startMs() {
          return startMs;
        },
        process: pebble,
        challtestsrv,
        async issuerRootPem() {
          const res = await httpRequest(`${managementUrl}/roots/0`, { ca: caCertPem });
          if (res.status !== 200) throw pebble.failure(`GET /roots/0 answered ${res.status}`);
          return res.body;
        },
        kill: killBoth,
        async restart() {
          if (stopped) throw new Error("pebble: restart() after stop()");
          t0 = performance.now();
          await Promise.all([pebble.stop(), chall.stop()]);
          startBoth();
          await waitReady();
          startMs = performance.now() - t0;
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          await Promise.all([pebble.stop(), chall.stop()]);
          await removeTempDir(baseDir);
        },
        logs: (maxLines?: number) =>
          `--- pebble ---\n${pebble.logs(maxLines)}\n--- pebble-challtestsrv ---\n${chall.logs(maxLines)}`,
      };
    }
  } catch (error) {
    await removeTempDir(baseDir).catch(() => undefined);
    throw error;
  }
}
