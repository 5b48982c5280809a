import type net from "node:net";
import type { ApiDeps } from "./deps.js";
import type { ConnectRouter } from "@connectrpc/connect";
import { AgentTokenVerifier, authenticate, authInterceptor, TokenVerifier } from "./auth.js";
import { agentAccessInterceptor } from "./agentAccess.js";
import { createGatedAdapter, requestBodyInterceptor } from "./requestGate.js";
import { createDualProtocolServer } from "./listener.js";
import { withAcmeChallengePath } from "./acmeChallengePath.js";
import { requestLogInterceptor } from "./requestLog.js";
import { rpcSpanInterceptor } from "./rpcSpan.js";
import { faultInterceptor } from "./faultInterceptor.js";
import { idempotencyKeyInterceptor } from "./idempotency.js";
import { ctrlService } from "./ctrlService.js";
import { clusterService } from "./cluster/index.js";
import { deployService } from "./deploy/index.js";
import { networkService } from "./network/index.js";
import { acmeService } from "./acme/index.js";
import { routingService } from "./routing/index.js";
import { openApiService } from "./openapi/index.js";
import { AcmeService } from "../gen/ctrl/v1/acme_pb.js";
import { ClusterService } from "../gen/ctrl/v1/cluster_pb.js";
import { CtrlService } from "../gen/ctrl/v1/ctrl_pb.js";
import { DeployService } from "../gen/ctrl/v1/deploy_pb.js";
import { NetworkService } from "../gen/ctrl/v1/network_pb.js";
import { OpenApiService } from "../gen/ctrl/v1/openapi_pb.js";
import { RoutingService } from "../gen/ctrl/v1/routing_pb.js";

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
    router.service(OpenApiService, openApiService(deps));
  };
}

/** The Connect API (Connect, gRPC and gRPC-web; HTTP/1.1 and h2c on one port). */
export function createApiServer(deps: ApiDeps): net.Server {
  const verifier = new TokenVerifier(deps.config.apiTokens);
  const agents = new AgentTokenVerifier(deps.config.agentTokens);
  // Bounded request bodies: nothing in this API needs more than 4 MiB.
  const readMaxBytes = 4 * 1024 * 1024;
  const handler = createGatedAdapter({
    routes: routes(deps),
    authenticate: (authorization) => void authenticate(verifier, agents, authorization),
    interceptors: [
      rpcSpanInterceptor(),
      requestLogInterceptor(deps.logger),
      authInterceptor(verifier, agents),
      agentAccessInterceptor(),
      requestBodyInterceptor(),
      idempotencyKeyInterceptor(),
      faultInterceptor(),
    ],
    readMaxBytes,
  });
  return createDualProtocolServer(withAcmeChallengePath(deps.db, handler), { headerTimeoutMs: deps.config.apiHeaderTimeoutMs, idleTimeoutMs: deps.config.apiIdleTimeoutMs });
}
