// The Caddy adapter: two Caddy processes (caddyConfig.ts). The front (client listeners, TLS)
// gets its config once — at start, and again only if it lost it — and the routing Caddy gets the
// whole routing config with one POST /load on every change. Caddy swaps configs atomically — the new one is provisioned
// beside the old and only then takes the listeners — so a refused config leaves the old one
// serving. An unchanged config is not sent again; whether Caddy still serves what was applied
// is read from the marker route's group (GET /id/switchyard_marker/group), a few bytes
// whatever the size of the config.

import http from "node:http";
import type { ApplyOutcome, Router, RouterState } from "../router.js";
import { FRONT_MARKER_ID, MARKER_ID, renderCaddyConfig, renderFrontConfig, type CaddyRenderOptions, type FrontRenderOptions } from "./caddyConfig.js";

export class CaddyApplyError extends Error {
  override name = "CaddyApplyError";
}

export interface CaddyRouterOptions extends Omit<CaddyRenderOptions, "adminListen" | "httpListen" | "httpsListen"> {
  /** The routing Caddy's admin API, e.g. http://127.0.0.1:2019. */
  adminUrl: string;
  /** The front Caddy's admin API, e.g. http://127.0.0.1:2020. */
  frontAdminUrl: string;
  /** Where clients connect (the front's listeners). */
  httpListen: string;
  httpsListen: string;
  /** The routing Caddy's loopback servers (what the front received over HTTP / HTTPS). */
  routingHttpListen: string;
  routingHttpsListen: string;
  /** URL the front asks for a hostname's certificate at handshake. */
  certificateUrl: string;
  /** Per admin request. Default 60 s (a /load of 10,000 hostnames takes about half a second). */
  timeoutMs?: number;
}

export class CaddyRouter implements Router {
  readonly name = "caddy";
  private applied: string | undefined;
  private frontApplied: string | undefined;
  private readonly adminUrl: string;
  private readonly frontAdminUrl: string;
  private readonly render: CaddyRenderOptions;
  private readonly front: { config: Record<string, unknown>; digest: string };

  constructor(private readonly opts: CaddyRouterOptions) {
    this.adminUrl = opts.adminUrl.replace(/\/+$/, "");
    this.frontAdminUrl = opts.frontAdminUrl.replace(/\/+$/, "");
    this.render = {
      adminListen: new URL(this.adminUrl).host,
      httpListen: opts.routingHttpListen,
      httpsListen: opts.routingHttpsListen,
      acmeUpstream: opts.acmeUpstream,
      gracePeriod: opts.gracePeriod,
      ...(opts.storageDir ? { storageDir: opts.storageDir } : {}),
      ...(opts.upstreamIdleTimeout ? { upstreamIdleTimeout: opts.upstreamIdleTimeout } : {}),
    };
    const front: FrontRenderOptions = {
      adminListen: new URL(this.frontAdminUrl).host,
      httpListen: opts.httpListen,
      httpsListen: opts.httpsListen,
      routingHttp: opts.routingHttpListen,
      routingHttps: opts.routingHttpsListen,
      certificateUrl: opts.certificateUrl,
      gracePeriod: opts.gracePeriod,
      ...(opts.storageDir ? { storageDir: opts.storageDir } : {}),
    };
    this.front = renderFrontConfig(front);
  }

  /**
   * Makes the front serve its (routing-independent) config: a POST /load only when it serves
   * another one (first start, a restarted front, changed settings), never on a routing change.
   */
  async ensureFront(): Promise<ApplyOutcome> {
    const { config, digest } = this.front;
    if (digest === this.frontApplied || (await this.servedDigest(this.frontAdminUrl, FRONT_MARKER_ID)) === digest) {
      this.frontApplied = digest;
      return "unchanged";
    }
    const response = await this.admin(this.frontAdminUrl, "POST", "/load", JSON.stringify(config));
    if (response.status !== 200) throw new CaddyApplyError(`the front Caddy refused its config (POST /load answered ${response.status}): ${response.body.slice(0, 500)}`);
    this.frontApplied = digest;
    return "applied";
  }

  /** Digest of the config last applied (undefined before the first apply). */
  get appliedDigest(): string | undefined {
    return this.applied;
  }

  async apply(state: RouterState): Promise<ApplyOutcome> {
    const frontOutcome = await this.ensureFront();
    const { config, digest } = renderCaddyConfig(state, this.render);
    if (digest === this.applied || (await this.servedDigest(this.adminUrl, MARKER_ID)) === digest) {
      this.applied = digest;
      return frontOutcome;
    }
    const response = await this.admin(this.adminUrl, "POST", "/load", JSON.stringify(config));
    if (response.status !== 200) throw new CaddyApplyError(`Caddy refused the config (POST /load answered ${response.status}): ${response.body.slice(0, 500)}`);
    this.applied = digest;
    return "applied";
  }

  async inSync(): Promise<boolean> {
    if (this.applied === undefined || this.frontApplied === undefined) return false;
    let synced = true;
    // Each one that lost its config is sent it again at the next apply, even if unchanged.
    if ((await this.servedDigest(this.frontAdminUrl, FRONT_MARKER_ID)) !== this.frontApplied) {
      this.frontApplied = undefined;
      synced = false;
    }
    if ((await this.servedDigest(this.adminUrl, MARKER_ID)) !== this.applied) {
      this.applied = undefined;
      synced = false;
    }
    return synced;
  }

  /** The digest of the config a Caddy serves, undefined when it serves none of ours. */
  private async servedDigest(adminUrl: string, markerId: string): Promise<string | undefined> {
    const response = await this.admin(adminUrl, "GET", `/id/${markerId}/group`);
    if (response.status !== 200) return undefined;
    let group: unknown;
    try {
      group = JSON.parse(response.body);
    } catch {
      return undefined;
    }
    return typeof group === "string" && group.startsWith("switchyard:") ? group.slice("switchyard:".length) : undefined;
  }

  /**
   * One admin request on a connection of its own: Caddy restarts its admin server on /load, so a
   * pooled keep-alive connection would be closed under the next request.
   */
  private admin(adminUrl: string, method: "GET" | "POST", urlPath: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${adminUrl}${urlPath}`,
        { method, agent: false, timeout: this.opts.timeoutMs ?? 60_000, headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", (error) => reject(new CaddyApplyError(`Caddy's admin API at ${adminUrl}: ${error.message}`)));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 60_000} ms`)));
      req.on("error", (error) => reject(new CaddyApplyError(`Caddy's admin API at ${adminUrl} is unreachable: ${error.message}`)));
      req.end(body);
    });
  }
}
