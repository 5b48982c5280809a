// Handles of the Restate services, for callers: a name plus the service's type (imported as a
// type only, so a caller never loads a workflow's implementation and two workflows that call each
// other do not import each other). The way restatedev/examples declare a callee in its caller.
import type { CertificateObject } from "./certificate.js";
import type { DeploymentWorkflow } from "./deployment.js";
import type { DomainObject } from "./domain.js";
import type { ProjectObject } from "./project.js";
import type { RetentionObject } from "./retention.js";
import type { WebhookObject } from "./webhook.js";

export const projectApi = { name: "Project" } as ProjectObject;
export const deploymentApi = { name: "Deployment" } as DeploymentWorkflow;
export const domainApi = { name: "Domain" } as DomainObject;
export const certificateApi = { name: "Certificate" } as CertificateObject;
export const webhookApi = { name: "WebhookEndpoint" } as WebhookObject;
export const retentionApi = { name: "Retention" } as RetentionObject;

/** The Retention object is a singleton: one key for the whole platform. */
export const RETENTION_KEY = "feeds";
