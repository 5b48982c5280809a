// The one way agents and gateways talk to switchyard: a Connect client of ClusterService over
// gRPC (h2c or TLS), the region credential on every call, HTTP/2 pings so a dead server is
// noticed within seconds instead of at the next TCP timeout.

import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ClusterService } from "../../gen/ctrl/v1/cluster_pb.js";

export function clusterClient(config: { url: string; token: string }): Client<typeof ClusterService> {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${config.token}`);
    return next(req);
  };
  return createClient(ClusterService, createGrpcTransport({ baseUrl: config.url, interceptors: [bearer], pingIntervalMs: 10_000, pingTimeoutMs: 5_000 }));
}
