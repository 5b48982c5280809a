// The Router interface (seed 000's AddRoute, RemoveRoute, UpdateRoute, AddDomain, RemoveDomain,
// ProvisionCert), made level-triggered: an adapter is handed the full desired state of its
// region at a feed version and makes the data plane serve exactly that — every hostname, path
// rule, weighted split and certificate binding at once — instead of replaying operations. A
// missed or repeated call therefore heals at the next one, and an adapter whose data plane lost
// its state (a restarted proxy) is simply given the same state again. docs/architecture.md maps
// each seed operation onto it and says what an Envoy/xDS or nginx adapter would implement.

/** One way to an application: a deployment, its share of a path, and where it runs. */
export interface Split {
  deploymentId: string;
  /** Share of the path's traffic, 1-100; the splits of a path sum to 100. */
  weight: number;
  /** `ip:port` of the deployment's running instances in this region; empty = none running. */
  upstreams: string[];
}

/** A path prefix of a hostname and how its traffic is shared out. */
export interface PathRoute {
  /** Prefix starting with "/"; "/" is every request not taken by a longer one. */
  path: string;
  /** Remove `path` from the request path before forwarding. */
  stripPrefix: boolean;
  splits: Split[];
}

/** Everything the data plane serves for one hostname. */
export interface HostRoute {
  /** Lowercase A-label. */
  hostname: string;
  /** The hostname's own deployment (what "/" goes to unless a rule says otherwise). */
  deploymentId: string;
  /** Longest path first; always ends with "/". */
  paths: PathRoute[];
  /** A certificate is attached: serve HTTPS for it (fetched from switchyard at handshake). */
  tls: boolean;
}

/** The full desired state of a region's data plane at a feed version. */
export interface RouterState {
  version: bigint;
  /** Sorted by hostname. */
  hosts: HostRoute[];
}

export type ApplyOutcome = "applied" | "unchanged";

export interface Router {
  readonly name: string;
  /**
   * Makes the data plane serve exactly `state`. Idempotent: a state equal to the one it serves
   * is not applied again ("unchanged"). Throws when the data plane refused or was unreachable;
   * nothing is half-applied (the adapter's data plane swaps configurations whole).
   */
  apply(state: RouterState): Promise<ApplyOutcome>;
  /** False when the data plane no longer serves what was last applied (e.g. it restarted empty). */
  inSync(): Promise<boolean>;
}
