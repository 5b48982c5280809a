// A private Restate cluster: `nodes` restate-servers (default 3) on loopback ports, every node
// running every role (metadata server, log server, worker, admin, ingress), replicated metadata
// (Raft) and log, replication factor `replication` (default 2), one node auto-provisioning the
// cluster (docs.restate.dev, "Cluster deployment"). In front of the nodes' ingress and admin
// ports, two h2c/HTTP balancers (endpointBalancer.ts) give clients one URL each that survives
// the loss of any one node, as a production load balancer would.
//
// It has the shape of a single Restate (restate.ts), so startStack({ restate: { nodes: 3 } })
// and everything built on the stack run on it unchanged; kill()/restart() act on every node,
// node(i).kill()/restart() on one (same ports and base dir: its state survives).

import { startEndpointBalancer, type EndpointBalancer } from "./endpointBalancer.js";
import { freePort, LOOPBACK } from "./net.js";
import { sleep } from "./process.js";
import { startRestate, type InvocationInFlight, type Restate, type RestateOptions } from "./restate.js";
import { queryAdmin } from "../../src/restate/admin.js";

export interface RestateClusterOptions extends Omit<RestateOptions, "env"> {
  /** Default 3. */
  nodes?: number;
  /** Log and partition replication factor. Default 2 (tolerates one lost node of three). */
  replication?: number;
}

export interface RestateCluster extends Restate {
  readonly nodes: readonly Restate[];
  node(index: number): Restate;
}

export async function startRestateCluster(opts: RestateClusterOptions = {}): Promise<RestateCluster> {
  const count = opts.nodes ?? 3;
  const replication = opts.replication ?? 2;
  if (count < replication) throw new Error(`startRestateCluster: ${count} node(s) cannot hold replication ${replication}`);
  const clusterName = `switchyard-test-${process.pid}-${Date.now().toString(36)}`;
  const nodePorts = await Promise.all(Array.from({ length: count }, () => freePort()));
  const metadataAddresses = JSON.stringify(nodePorts.map((port) => `http://${LOOPBACK}:${port}`));

  // All at once: the provisioning node waits for `replication` log servers before it is healthy.
  const started = await Promise.allSettled(
    nodePorts.map((nodePort, i) =>
      startRestate({
        readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
        partitions: opts.partitions,
        env: {
          RESTATE_NODE_NAME: `n${i + 1}`,
          RESTATE_CLUSTER_NAME: clusterName,
          RESTATE_AUTO_PROVISION: i === 0 ? "true" : "false",
          RESTATE_BIND_ADDRESS: `${LOOPBACK}:${nodePort}`,
          RESTATE_ADVERTISED_ADDRESS: `http://${LOOPBACK}:${nodePort}/`,
          RESTATE_METADATA_CLIENT__ADDRESSES: metadataAddresses,
          RESTATE_DEFAULT_REPLICATION: String(replication),
          RESTATE_ROLES: JSON.stringify(["metadata-server", "admin", "worker", "log-server", "http-ingress"]),
          RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE: "128MB",
        },
      }),
    ),
  );
  const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const balancers: EndpointBalancer[] = [];
  const stopAll = async () => {
    await Promise.allSettled([...balancers.map((b) => b.stop()), ...nodes.map((n) => n.stop())]);
  };
  if (nodes.length < count) {
    await stopAll();
    const reasons = started.flatMap((s) => (s.status === "rejected" ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : []));
    throw new Error(`startRestateCluster: ${count - nodes.length} node(s) failed to start:\n${reasons.join("\n\n")}`);
  }
  try {
    balancers.push(await startEndpointBalancer(nodes.map((n) => n.ingressPort), { upstream: "http1", failMs: 2000 }));
    balancers.push(await startEndpointBalancer(nodes.map((n) => n.adminPort), { upstream: "http1", failMs: 2000 }));
  } catch (error) {
    await stopAll();
    throw error;
  }
  const [ingress, admin] = balancers as [EndpointBalancer, EndpointBalancer];
  // Asked of the nodes in turn (not through the balancer): a query is answered by any live node.
  const inFlight = async () => {
    let lastError: unknown;
    for (const node of nodes) {
      try {
        return await queryAdmin<InvocationInFlight>(node.adminUrl, "SELECT id, target, status FROM sys_invocation WHERE status NOT IN ('completed', 'scheduled') ORDER BY created_at");
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
  let stopped = false;
  return {
    nodes,
    node(index: number) {
      const node = nodes[index];
      if (!node) throw new Error(`restate cluster: no node ${index}`);
      return node;
    },
    ingressUrl: ingress.url,
    adminUrl: admin.url,
    ingressPort: ingress.caddy.httpPort,
    adminPort: admin.caddy.httpPort,
    nodePort: nodes[0]!.nodePort,
    baseDir: nodes[0]!.baseDir,
    // Every node signs with its own key; switchyard accepts any of them.
    identityKey: nodes.map((n) => n.identityKey).join(","),
    get pid() {
      return nodes[0]!.pid;
    },
    get pids() {
      return nodes.flatMap((n) => n.pids);
    },
    get startMs() {
      return Math.max(...nodes.map((n) => n.startMs));
    },
    process: nodes[0]!.process,
    inFlight,
    async waitUntilQuiet(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Right after a node is lost, a query may fail until its partitions have new leaders.
        const running = await inFlight().catch((error: unknown) => error as Error);
        if (Array.isArray(running) && running.length === 0) return;
        if (Date.now() >= deadline) {
          const what = Array.isArray(running) ? running.map((i) => `${i.target} ${i.status} (${i.id})`).join(", ") : `unknown (${running.message})`;
          throw new Error(`invocations still in flight after ${timeoutMs} ms: ${what}`);
        }
        await sleep(100);
      }
    },
    async kill() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
    async restart() {
      if (stopped) throw new Error("restate cluster: restart() after stop()");
      await Promise.all(nodes.map((n) => n.restart()));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
    logs: (maxLines?: number) => nodes.map((n, i) => `--- node n${i + 1} ---\n${n.logs(maxLines)}`).join("\n"),
  };
}
