// The Caddy adapter's renderers (pure). The data plane is two Caddy processes:
//
//   front Caddy (renderFrontConfig)   the listeners clients reach; its config never changes with
//     routing, so a routing change never reloads it and no TLS handshake meets a retiring config
//     apps.http.servers.front       HTTP on --http-listen  → every request to the routing HTTP port
//     apps.http.servers.front_tls   HTTPS on --https-listen → every request to the routing HTTPS port
//     apps.tls   certificates from switchyard at handshake (tls.get_certificate.http), no ACME;
//                an SNI switchyard has no certificate for fails the handshake
//   routing Caddy (renderCaddyConfig) on loopback only, plain HTTP, reloaded by every change
//     apps.http.servers.switchyard      requests the front received over HTTP
//     apps.http.servers.switchyard_tls  requests the front received over HTTPS (TLS hostnames only)
//       routes: /.well-known/acme-challenge/* → switchyard (HTTP-01, any host; HTTP side only)
//               one route per hostname (host matcher, terminal) → subroute: its paths, longest
//                 first; each strips its prefix when asked and reverse-proxies to its upstreams
//               catch-all 404 (carries the marker: @id switchyard_marker, group = config digest)
//   admin (both)  the admin endpoint itself (POST /load replaces it too), config.persist false so
//                 nothing is written to autosave.json
//
// The front keeps Host and adds X-Forwarded-For/-Proto/-Host; the routing Caddy trusts them from
// loopback (it listens nowhere else), so applications see the client's address and scheme.
//
// Weights: Caddy 2.6.2 has no weighted_round_robin. A path split between deployments becomes one
// reverse_proxy whose upstream list repeats each instance in proportion to its share — a
// deployment of weight w with n instances contributes w/n per instance, scaled to the smallest
// whole numbers — with the round_robin policy, so every cycle through the list sends exactly
// the weights (80/20 over two instances: 4 + 1 entries, 80 % and 20 % of every 5 requests). A
// deployment of a split without a running instance here gives its share to the others; a path
// with no running instance at all answers 503.

import { createHash } from "node:crypto";
import type { HostRoute, PathRoute, RouterState } from "../router.js";

export interface CaddyRenderOptions {
  /** host:port of the routing Caddy's admin endpoint (kept, since /load replaces the admin block too). */
  adminListen: string;
  /** Loopback host:port where the routing Caddy serves what the front received over HTTP. */
  httpListen: string;
  /** Loopback host:port where the routing Caddy serves what the front received over HTTPS. */
  httpsListen: string;
  /** host:port of switchyard's API, which answers HTTP-01 challenges. */
  acmeUpstream: string;
  /** How long a reload lets old connections finish (Caddy's grace_period), e.g. "10s". */
  gracePeriod: string;
  /** Caddy's data directory (storage); unset = Caddy's default. */
  storageDir?: string;
  /** Upstream keep-alive idle timeout, below the applications' own (Node's default is 5 s). */
  upstreamIdleTimeout?: string;
}

export interface FrontRenderOptions {
  /** host:port of the front Caddy's admin endpoint. */
  adminListen: string;
  /** host:port clients reach over HTTP. */
  httpListen: string;
  /** host:port clients reach over HTTPS. */
  httpsListen: string;
  /** The routing Caddy's two loopback servers the front forwards to. */
  routingHttp: string;
  routingHttps: string;
  /** URL Caddy asks for a hostname's certificate at handshake (the gateway's certificate endpoint). */
  certificateUrl: string;
  /** How long a reload (a lost config loaded again) lets old connections finish. */
  gracePeriod: string;
  storageDir?: string;
}

export const MARKER_ID = "switchyard_marker";
export const FRONT_MARKER_ID = "switchyard_front_marker";
/** The front's connections to the routing Caddy outlive a reload there by this retry window. */
const FRONT_TRY_DURATION = "5s";
const LOOPBACK_RANGES = ["127.0.0.1/32", "::1/128"];
const MAX_UPSTREAM_ENTRIES = 1000;

type Json = Record<string, unknown>;

/** The config and its digest (of everything but the marker, which carries the digest). */
export function renderCaddyConfig(state: RouterState, opts: CaddyRenderOptions): { config: Json; digest: string } {
  const hostRoutes = state.hosts.map((host) => renderHost(host, opts));
  const acme = {
    match: [{ path: ["/.well-known/acme-challenge/*"] }],
    handle: [{ handler: "reverse_proxy", upstreams: [{ dial: opts.acmeUpstream }] }],
    terminal: true,
  };
  const notFound = { handler: "static_response", status_code: 404, headers: { "Content-Type": ["text/plain; charset=utf-8"] }, body: "no such host\n" };
  // Both servers always exist (plain HTTP on loopback): the front always has somewhere to
  // forward, and no reload opens or closes a listener.
  const servers: Json = {
    switchyard: { listen: [opts.httpListen], automatic_https: { disable: true }, routes: [acme, ...hostRoutes, { handle: [notFound] }] },
    switchyard_tls: {
      listen: [opts.httpsListen],
      automatic_https: { disable: true },
      routes: [...state.hosts.filter((h) => h.tls).map((host) => renderHost(host, opts)), { handle: [notFound] }],
    },
  };
  const body: Json = {
    admin: { listen: opts.adminListen, config: { persist: false } },
    logging: { logs: { default: { level: "WARN" } } },
    ...(opts.storageDir ? { storage: { module: "file_system", root: opts.storageDir } } : {}),
    apps: { http: { grace_period: opts.gracePeriod, servers } },
  };
  const digest = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
  const routes = (servers.switchyard as { routes: Json[] }).routes;
  routes[routes.length - 1] = { "@id": MARKER_ID, group: `switchyard:${digest}`, handle: [notFound] };
  return { config: body, digest };
}

/**
 * The front Caddy's config and its digest: one catch-all route per listener forwarding to the
 * routing Caddy. It depends on settings only, never on routing, so it is loaded once.
 */
export function renderFrontConfig(opts: FrontRenderOptions): { config: Json; digest: string } {
  const forward = (dial: string) => ({
    handler: "reverse_proxy",
    upstreams: [{ dial }],
    // A dial refused while the routing Caddy swaps listeners is tried again; a reused
    // keep-alive connection the retiring routing server closes is retried by Go's transport
    // (idempotent requests). Host is kept as is; X-Forwarded-For/-Proto/-Host are added.
    load_balancing: { try_duration: FRONT_TRY_DURATION, try_interval: "20ms" },
    transport: { protocol: "http", keep_alive: { idle_timeout: "30s" } },
  });
  const body: Json = {
    admin: { listen: opts.adminListen, config: { persist: false } },
    logging: { logs: { default: { level: "WARN" } } },
    ...(opts.storageDir ? { storage: { module: "file_system", root: opts.storageDir } } : {}),
    apps: {
      http: {
        grace_period: opts.gracePeriod,
        servers: {
          front: { listen: [opts.httpListen], automatic_https: { disable: true }, routes: [{ handle: [forward(opts.routingHttp)] }] },
          front_tls: { listen: [opts.httpsListen], automatic_https: { disable: true }, tls_connection_policies: [{}], routes: [{ handle: [forward(opts.routingHttps)] }] },
        },
      },
      tls: {
        automation: {
          // No subjects: the policy of every name. Certificates come from the manager only —
          // no issuer runs, on-demand is off, so Caddy's own ACME never orders anything.
          policies: [{ get_certificate: [{ via: "http", url: opts.certificateUrl }] }],
        },
        disable_ocsp_stapling: true,
      },
    },
  };
  const digest = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
  const front = (body.apps as { http: { servers: { front: { routes: Json[] } } } }).http.servers.front;
  front.routes[0] = { "@id": FRONT_MARKER_ID, group: `switchyard:${digest}`, ...front.routes[0] };
  return { config: body, digest };
}

function renderHost(host: HostRoute, opts: CaddyRenderOptions): Json {
  return {
    match: [{ host: [host.hostname] }],
    handle: [{ handler: "subroute", routes: host.paths.map((path) => renderPath(path, opts)) }],
    terminal: true,
  };
}

function renderPath(path: PathRoute, opts: CaddyRenderOptions): Json {
  const handle: Json[] = [];
  if (path.stripPrefix) handle.push({ handler: "rewrite", strip_path_prefix: path.path.replace(/\/$/, "") });
  const dials = weightedUpstreams(path);
  if (dials.length === 0) {
    handle.push({ handler: "static_response", status_code: 503, headers: { "Retry-After": ["1"] }, body: "no running instance\n" });
  } else {
    handle.push({
      handler: "reverse_proxy",
      // The front's X-Forwarded-* (it is the only thing on loopback meant to reach this Caddy).
      trusted_proxies: LOOPBACK_RANGES,
      upstreams: dials.map((dial) => ({ dial })),
      load_balancing: { selection_policy: { policy: "round_robin" }, try_duration: "2s", try_interval: "50ms" },
      transport: { protocol: "http", keep_alive: { idle_timeout: opts.upstreamIdleTimeout ?? "2s" } },
    });
  }
  const route: Json = { handle };
  if (path.path !== "/") {
    const prefix = path.path.replace(/\/$/, "");
    route.match = [{ path: [prefix, `${prefix}/*`] }];
  }
  return route;
}

/**
 * The upstream list of a path: each running instance repeated in proportion to its share of
 * the path's traffic (its deployment's weight divided by the deployment's instance count), in
 * the smallest whole numbers (at most 1,000 entries; beyond that the counts are rounded).
 */
export function weightedUpstreams(path: PathRoute): string[] {
  const running = path.splits.filter((s) => s.upstreams.length > 0 && s.weight > 0);
  if (running.length === 0) return [];
  if (running.length === 1) return [...running[0]!.upstreams];
  const lcm = running.reduce((acc, s) => (acc * s.upstreams.length) / gcd(acc, s.upstreams.length), 1);
  let counts = running.map((s) => (s.weight * lcm) / s.upstreams.length);
  const divisor = counts.reduce((acc, c) => gcd(acc, c), 0);
  counts = counts.map((c) => c / divisor);
  const total = counts.reduce((sum, c, i) => sum + c * running[i]!.upstreams.length, 0);
  if (total > MAX_UPSTREAM_ENTRIES) counts = counts.map((c) => Math.max(1, Math.round((c * MAX_UPSTREAM_ENTRIES) / total)));
  // Interleaved (entry k of every instance in turn), so a cycle is spread out, not in runs.
  const out: string[] = [];
  const max = Math.max(...counts);
  for (let k = 0; k < max; k++) {
    running.forEach((s, i) => {
      if (k < counts[i]!) out.push(...s.upstreams);
    });
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
