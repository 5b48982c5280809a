import "../src/polyfill.js";
import http2 from "node:http2";
import * as restate from "@restatedev/restate-sdk";
import { restateLogTransport } from "../src/restate/logTransport.js";
import type { WorkflowDeps } from "./deps.js";
import { createDeploymentWorkflow } from "./deployment.js";
import { createDomainObject } from "./domain.js";
import { createWebhookObject } from "./webhook.js";
import { createCertificateObject } from "./certificate.js";
import { createProjectObject } from "./project.js";
import { systemService } from "./system.js";
import { createRetentionObject } from "./retention.js";

/** Every Restate service this process serves; the one place that binds them. */
export function restateServices(deps: WorkflowDeps) {
  return [systemService, createProjectObject(deps), createDeploymentWorkflow(deps), createDomainObject(deps), createWebhookObject(deps), createCertificateObject(deps), createRetentionObject(deps)];
}

/** An h2c server for the Restate endpoint (restate-server speaks HTTP/2 with prior knowledge). */
export function createRestateEndpointServer(deps: WorkflowDeps): http2.Http2Server {
  return http2.createServer(
    restate.createEndpointHandler({
      services: restateServices(deps),
      logger: restateLogTransport(deps.logger),
      // With keys configured, only a restate-server holding one of the private keys can invoke us.
      ...(deps.config.restateIdentityKeys.length > 0 ? { identityKeys: deps.config.restateIdentityKeys } : {}),
    }),
  );
}
