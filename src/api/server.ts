import type net from "node:net";
import type { Kysely } from "kysely";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "../config.js";
import type { Database } from "../db/schema.js";
import type { Logger } from "../log.js";
import { authInterceptor, TokenVerifier } from "./auth.js";
import { createDualProtocolServer } from "./listener.js";
import { withAcmeChallengePath } from "./acmeChallengePath.js";
import { requestLogInterceptor } from "./requestLog.js";
import { ctrlService } from "./ctrlService.js";
import { clusterService } from "./cluster/index.js";
import { deployService } from "./deploy/index.js";
import { networkService } from "./network/index.js";
import { acmeService } from "./acme/index.js";
import { routingService } from "./routing/index.js";
import type { Ingress } from "../restate/ingress.js";
import { AcmeService } from "../gen/ctrl/v1/acme_pb.js";
import { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import { CtrlService } from "../gen/ctrl/v1/ctrl_pb.js";
import { DeployService } from "../gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../gen/ctrl/v1/network_pb.js";
import { OpenApiService } from "../gen/ctrl/v1/openapi_pb.js";
import { RoutingService } from "../gen/ctrl/v1/routing_pb.js";

export interface ApiDeps {
  config: Config;
  logger: Logger;
  db: Kysely<Database>;
  /** Restate ingress: starts workflows and calls the Project object. */
  ingress: Ingress;
}

/**
 * Every Connect service, in one place. An RPC without an implementation answers Unimplemented
 * (connect-es does that for methods missing from a partial implementation) — never a fake success.
 */
function routes(deps: ApiDeps) {
  return (router: ConnectRouter) => {
    router.service(CtrlService, ctrlService());
    router.service(DeployService, deployService(deps));
    router.service(RoutingService, routingService(deps));
    router.service(NetworkService, networkService(deps));
    router.service(AcmeService, acmeService(deps));
    router.service(ClusterService, clusterService(deps));
    router.service(OpenApiService, {});
  };
}

/** The Connect API (Connect, gRPC and gRPC-web; HTTP/1.1 and h2c on one port). */
export function createApiServer(deps: ApiDeps): net.Server {
  const handler = connectNodeAdapter({
    routes: routes(deps),
    interceptors: [requestLogInterceptor(deps.logger), authInterceptor(new TokenVerifier(deps.config.apiTokens))],
    // Bounded request bodies: nothing in this API needs more than 4 MiB.
    readMaxBytes: 4 * 1024 * 1024,
  });
  return createDualProtocolServer(withAcmeChallengePath(deps.db, handler));
}
