// From the gateway configs of WatchGatewayConfigs to the Router's desired state of one region
// (pure): upstreams of other regions are dropped, NetworkService rules become per-path weighted
// splits (the weights of a path sum to at most 100; the rest stays on the hostname's own
// deployment), and the readiness gate holds a hostname on its previous deployment while the
// deployment it is switched to has no running instance in this region.

import type { GatewayConfig } from "../gen/ctrl/v1/resources_pb.js";
import { RouteProtocol } from "../gen/ctrl/v1/resources_pb.js";
import type { HostRoute, PathRoute, RouterState, Split } from "./router.js";

const upstreamsIn = (region: string, list: readonly { region: string; address: string }[]) => list.filter((u) => u.region === region && u.address !== "").map((u) => u.address);

/** One hostname's routes in `region`. */
export function hostRoute(config: GatewayConfig, region: string): HostRoute {
  const own = upstreamsIn(region, config.upstreams);
  const byPath = new Map<string, { splits: Split[]; strip: { yes: number; no: number } }>();
  for (const rule of config.rules) {
    // A tcp route is not HTTP: the HTTP data plane has nothing to route for it.
    if (rule.protocol === RouteProtocol.TCP || rule.weight === 0) continue;
    const entry = byPath.get(rule.path) ?? { splits: [], strip: { yes: 0, no: 0 } };
    entry.splits.push({ deploymentId: rule.deploymentId, weight: rule.weight, upstreams: upstreamsIn(region, rule.upstreams) });
    entry.strip[rule.stripPrefix ? "yes" : "no"] += rule.weight;
    byPath.set(rule.path, entry);
  }
  if (!byPath.has("/")) byPath.set("/", { splits: [], strip: { yes: 0, no: 0 } });
  const paths: PathRoute[] = [...byPath].map(([path, { splits, strip }]) => {
    const taken = splits.reduce((sum, s) => sum + s.weight, 0);
    const all = taken < 100 ? [...splits, { deploymentId: config.deploymentId, weight: 100 - taken, upstreams: own }] : splits;
    // One path has one rewrite: strip_prefix follows the larger share (the rest counts as not stripping).
    return { path, stripPrefix: path !== "/" && strip.yes > strip.no + (100 - taken), splits: merge(all) };
  });
  paths.sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path));
  return { hostname: config.hostname, deploymentId: config.deploymentId, paths, tls: config.certificateId !== "" };
}

/** Splits to one deployment added up (two rules of a path may name the same deployment). */
function merge(splits: Split[]): Split[] {
  const out = new Map<string, Split>();
  for (const split of splits) {
    const seen = out.get(split.deploymentId);
    if (seen) seen.weight += split.weight;
    else out.set(split.deploymentId, { ...split, upstreams: [...split.upstreams] });
  }
  return [...out.values()];
}

const runsSomewhere = (route: HostRoute) => route.paths.some((p) => p.splits.some((s) => s.upstreams.length > 0));

/**
 * The desired state of `region`. `previous` is what was last handed to the router: a hostname
 * whose config now names another deployment that has no running instance here keeps its
 * previous routes (readiness gate) until that deployment's instances are reported.
 */
export function regionState(configs: Iterable<GatewayConfig>, region: string, version: bigint, previous?: ReadonlyMap<string, HostRoute>): { state: RouterState; held: string[] } {
  const hosts: HostRoute[] = [];
  const held: string[] = [];
  for (const config of configs) {
    const route = hostRoute(config, region);
    const before = previous?.get(route.hostname);
    if (before && before.deploymentId !== route.deploymentId && !runsSomewhere(route) && runsSomewhere(before)) {
      hosts.push({ ...before, tls: route.tls });
      held.push(route.hostname);
    } else {
      hosts.push(route);
    }
  }
  hosts.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return { state: { version, hosts }, held };
}
