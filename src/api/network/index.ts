import type { ServiceImpl } from "@connectrpc/connect";
import type { NetworkService } from "../../gen/ctrl/v1/network_pb.js";
import type { ApiDeps } from "../deps.js";
import { addDomain, getDomain, listDomains, removeDomain } from "./domains.js";
import { verifyDomain } from "./verifyDomain.js";
import { watchEvents } from "./watchEvents.js";
import { addRoute, listRoutes, removeRoute, updateRoute } from "./routes.js";
import { getCertificate, provisionCert } from "./certificates.js";
import { createWebhookEndpoint, deleteWebhookEndpoint, listWebhookDeliveries, listWebhookEndpoints } from "./webhooks.js";

/**
 * NetworkService, as far as it is built: custom domain claims with their DNS instructions and
 * ownership checks (VerifyDomain, and the Domain object's background re-checks), the event
 * stream (WatchEvents), webhooks, weighted traffic routes, and certificates over HTTP-01
 * (ProvisionCert, GetCertificate).
 */
export function networkService(deps: ApiDeps): Partial<ServiceImpl<typeof NetworkService>> {
  return {
    addDomain: addDomain(deps),
    getDomain: getDomain(deps),
    listDomains: listDomains(deps),
    removeDomain: removeDomain(deps),
    verifyDomain: verifyDomain(deps),
    watchEvents: watchEvents(deps),
    provisionCert: provisionCert(deps),
    getCertificate: getCertificate(deps),
    addRoute: addRoute(deps),
    updateRoute: updateRoute(deps),
    removeRoute: removeRoute(deps),
    listRoutes: listRoutes(deps),
    createWebhookEndpoint: createWebhookEndpoint(deps),
    listWebhookEndpoints: listWebhookEndpoints(deps),
    deleteWebhookEndpoint: deleteWebhookEndpoint(deps),
    listWebhookDeliveries: listWebhookDeliveries(deps),
  };
}
