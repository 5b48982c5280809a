// One Restate endpoint URL for several switchyard replicas: a private Caddy (startCaddy) as an
// h2c load balancer in front of their endpoint ports (also, with upstream "http1", one ingress
// and admin URL for the nodes of a Restate cluster). Restate registers the balancer's URL once
// (every replica registers the same URL with force: true, so they are one deployment); an
// invocation pinned to that deployment survives the death of any one replica, because the
// balancer sends the retry to a live one (docs/architecture.md, "Production topology").
//
// Passive health checks take a replica that refused a connection out for `failMs`, and
// try_duration retries a refused dial on the next upstream, so a SIGKILLed replica costs Restate
// at most one retried attempt.

import { startCaddy, type Caddy } from "./caddy.js";
import { LOOPBACK } from "./net.js";

export interface EndpointBalancer {
  /** http://127.0.0.1:PORT — give it to every replica as SWITCHYARD_ENDPOINT_URL. */
  readonly url: string;
  readonly caddy: Caddy;
  /** Replaces the upstreams (e.g. drains a replica); resolves once Caddy applied the config. */
  setUpstreams(ports: readonly number[]): Promise<void>;
  stop(): Promise<void>;
}

export interface BalancerOptions {
  /** How the balancer talks to upstreams: "h2c" (Restate endpoints) or "http1" (ingress, admin). Default "h2c". */
  upstream?: "h2c" | "http1";
  /** How long a replica that refused a connection is left out. Default 5 000 ms. */
  failMs?: number;
}

export async function startEndpointBalancer(upstreamPorts: readonly number[], opts: BalancerOptions = {}): Promise<EndpointBalancer> {
  if (upstreamPorts.length === 0) throw new Error("startEndpointBalancer: no upstream ports");
  const caddy = await startCaddy();
  const configFor = (ports: readonly number[]) => ({
    logging: { logs: { default: { level: "ERROR" } } },
    apps: {
      http: {
        http_port: caddy.httpPort,
        https_port: caddy.httpsPort,
        servers: {
          endpoint: {
            listen: [`${LOOPBACK}:${caddy.httpPort}`],
            // Restate speaks HTTP/2 with prior knowledge to an http:// endpoint.
            protocols: ["h1", "h2c"],
            automatic_https: { disable: true },
            routes: [
              {
                handle: [
                  {
                    handler: "reverse_proxy",
                    upstreams: ports.map((port) => ({ dial: `${LOOPBACK}:${port}` })),
                    transport: { protocol: "http", versions: opts.upstream === "http1" ? ["1.1"] : ["h2c"] },
                    // Invocations are bidirectional streams: never buffer.
                    flush_interval: -1,
                    load_balancing: { selection_policy: { policy: "round_robin" }, try_duration: "5s", try_interval: "100ms" },
                    health_checks: { passive: { fail_duration: `${opts.failMs ?? 5000}ms`, max_fails: 1 } },
                  },
                ],
              },
            ],
          },
        },
      },
    },
  });
  try {
    await caddy.load(configFor(upstreamPorts));
  } catch (error) {
    await caddy.stop().catch(() => undefined);
    throw error;
  }
  return {
    url: `http://${LOOPBACK}:${caddy.httpPort}`,
    caddy,
    async setUpstreams(ports) {
      // Caddy 2.6.2 (Debian) panics dialing an h2c upstream after an in-process reload that
      // retired live h2c connections ("context: internal error: missing cancel error"), so the
      // new config is applied by restarting the process on the same ports.
      await caddy.load(configFor(ports));
      await caddy.restart();
    },
    stop: () => caddy.stop(),
  };
}
