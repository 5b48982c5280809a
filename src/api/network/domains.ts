import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { isDuplicateKey } from "../../db/errors.js";
import { appendEvents } from "../../db/events.js";
import { newId } from "../../db/ids.js";
import { toJson } from "../../db/schema.js";
import { customDomainName, type CustomDomainName } from "../../customDomains/name.js";
import { initialConditions } from "../../customDomains/conditions.js";
import { acmeDelegationTarget, cnameTarget } from "../../customDomains/records.js";
import {
  AddDomainResponseSchema,
  GetDomainResponseSchema,
  ListDomainsResponseSchema,
  RemoveDomainResponseSchema,
  type AddDomainRequest,
  type GetDomainRequest,
  type ListDomainsRequest,
  type RemoveDomainRequest,
} from "../../gen/ctrl/v1/network_pb.js";
import { principalOf } from "../auth.js";
import { invalidArgument, notFound } from "../errors.js";
import { keysetPage } from "../pagination.js";
import { idempotent, idempotentSend, viaIngress } from "../../restate/ingress.js";
import { domainApi, projectApi } from "../../../workflows/handles.js";
import { scopedKey } from "../idempotency.js";
import type { ApiDeps } from "../deps.js";
import { findDomain, findProject, findWorkspace, requireId } from "../tenancy.js";
import { environmentRef as environmentField, pageSize } from "../validation.js";
import { domainToProto } from "../domainToProto.js";
import { QUERIES_PER_CHECK, reserveCheckSlot } from "../../customDomains/checkSlots.js";

// Custom domain claims (one-owner-per-hostname, docs/invariants.md). A claim is per tenant: any
// number of tenants may hold a pending claim on a hostname, at most one a verified one (a UNIQUE
// generated column). A verified hostname that is removed is tombstoned: for a while only the
// tenant that removed it may claim it again, and gets it back verified without a fresh proof.

/** Claims a workspace may hold; more answer ResourceExhausted. */
export const MAX_DOMAINS_PER_WORKSPACE = 10_000;

function verificationToken(): string {
  // 160 random bits, lowercase base-32 digits: safe in a TXT record and in a URL.
  return BigInt(`0x${randomBytes(20).toString("hex")}`).toString(32).padStart(32, "0");
}

function domainName(req: AddDomainRequest, platformApex: string): CustomDomainName {
  const name = customDomainName(req.hostname, { wildcard: req.wildcard, platformApex });
  if ("problem" in name) throw invalidArgument("hostname", name.problem);
  if (name.wildcard && !acmeDelegationTarget("", name.baseHostname, platformApex)) {
    throw invalidArgument("hostname", "is too long for the _acme-challenge delegation a wildcard certificate needs");
  }
  return name;
}

export function addDomain({ db, config, ingress }: ApiDeps) {
  return async (req: AddDomainRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    requireId("project_id", req.projectId);
    const name = domainName(req, config.platformApex);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    const project = await findProject(db, tenantId, req.projectId);
    if (project.workspace_id !== req.workspaceId) throw notFound("project", `${req.projectId} in workspace ${req.workspaceId}`);
    const environmentRef = req.environment === "" ? "production" : environmentField("environment", req.environment);
    const environment = await db
      .selectFrom("environments")
      .select(["id"])
      .where("project_id", "=", project.id)
      .where((eb) => eb.or([eb("slug", "=", environmentRef), eb("id", "=", environmentRef)]))
      .executeTakeFirst();
    if (!environment) throw notFound("environment", `${environmentRef.slice(0, 64)} in project ${project.id}`);
    const tls = req.tls ?? true;

    const row = await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .selectFrom("custom_domains")
        .selectAll()
        .where("tenant_id", "=", tenantId)
        .where("claim_hostname", "=", name.hostname)
        .executeTakeFirst();
      if (claimed) {
        // A retry of this very claim returns it; anything else is a second claim.
        const sameClaim = claimed.project_id === project.id && claimed.environment_id === environment.id && claimed.tls === tls;
        if (req.idempotencyKey !== "" && sameClaim) return claimed;
        throw new ConnectError(`hostname: ${name.hostname} is already claimed by this tenant (domain ${claimed.id})`, Code.AlreadyExists);
      }
      const count = await trx
        .selectFrom("custom_domains")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("workspace_id", "=", project.workspace_id)
        .where("status", "<>", "removed")
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_DOMAINS_PER_WORKSPACE) {
        throw new ConnectError(`workspace ${project.workspace_id} already has ${MAX_DOMAINS_PER_WORKSPACE} domains`, Code.ResourceExhausted);
      }
      const now = new Date();
      const tombstone = await trx.selectFrom("domain_tombstones").selectAll().where("hostname", "=", name.hostname).forUpdate().executeTakeFirst();
      const reserved = tombstone && tombstone.expires_at > now ? tombstone : undefined;
      if (reserved && reserved.tenant_id !== tenantId) {
        throw new ConnectError(
          `hostname: ${name.hostname} was released by its previous owner and is reserved for it until ${reserved.expires_at.toISOString()}`,
          Code.FailedPrecondition,
        );
      }
      // The tenant that released a verified hostname gets it back verified, if nobody took it meanwhile.
      const owner = await trx.selectFrom("custom_domains").select("id").where("verified_hostname", "=", name.hostname).executeTakeFirst();
      const restore = reserved !== undefined && !owner;
      if (tombstone) await trx.deleteFrom("domain_tombstones").where("hostname", "=", name.hostname).execute();

      const id = newId("dom");
      try {
        await trx
          .insertInto("custom_domains")
          .values({
            id,
            tenant_id: tenantId,
            workspace_id: project.workspace_id,
            project_id: project.id,
            environment_id: environment.id,
            hostname: name.hostname,
            unicode_hostname: name.unicodeHostname,
            wildcard: name.wildcard,
            tls,
            verification_token: verificationToken(),
            cname_target: cnameTarget(tenantId, name.baseHostname, config.platformApex),
            status: restore ? "verified" : "pending",
            verified_at: restore ? now : null,
            conditions: toJson(initialConditions({ tls, now })),
            // The first check: right away, unless the DNS budget is taken for this second.
            next_check_at: await reserveCheckSlot(trx, now, Math.max(1, Math.floor(config.dnsQueriesPerSecond / QUERIES_PER_CHECK))),
          })
          .execute();
      } catch (error) {
        if (isDuplicateKey(error)) throw new ConnectError(`hostname: ${name.hostname} is already claimed by this tenant`, Code.AlreadyExists);
        throw error;
      }
      await appendEvents(trx, [
        {
          tenantId,
          workspaceId: project.workspace_id,
          type: "DomainAdded",
          subject: id,
          payload: { domainId: id, hostname: name.hostname, projectId: project.id, environmentId: environment.id, restoredFromTombstone: restore },
        },
      ]);
      return trx.selectFrom("custom_domains").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    });
    // The first ownership check runs right away; its schedule follows. If restate-server is
    // unreachable the caller gets Unavailable, and its retry (same idempotency key) finds the
    // claim and sends again — the send's own key makes it start once.
    const delay = Math.max(0, (row.next_check_at?.getTime() ?? 0) - Date.now());
    await viaIngress(() => ingress.objectSendClient(domainApi, row.id).verify({}, idempotentSend(`domain-first-check/${row.id}`, delay)));
    return create(AddDomainResponseSchema, { domain: domainToProto(row, config) });
  };
}

export function getDomain({ db, config }: ApiDeps) {
  return async (req: GetDomainRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    return create(GetDomainResponseSchema, { domain: domainToProto(await findDomain(db, principalOf(context).tenantId, req.domainId), config) });
  };
}

export function listDomains({ db, config }: ApiDeps) {
  return async (req: ListDomainsRequest, context: HandlerContext) => {
    requireId("workspace_id", req.workspaceId);
    pageSize(req.pageSize);
    const { tenantId } = principalOf(context);
    await findWorkspace(db, tenantId, req.workspaceId);
    if (req.projectId !== "") {
      const project = await findProject(db, tenantId, requireId("project_id", req.projectId));
      if (project.workspace_id !== req.workspaceId) throw notFound("project", `${req.projectId} in workspace ${req.workspaceId}`);
    }
    let hostname: string | undefined;
    if (req.hostname !== "") {
      const wildcard = req.hostname.trim().startsWith("*.");
      const name = customDomainName(req.hostname, { wildcard, platformApex: config.platformApex });
      if ("problem" in name) throw invalidArgument("hostname", name.problem);
      hostname = name.hostname;
    }
    const filters = { rpc: "ListDomains", tenantId, workspaceId: req.workspaceId, projectId: req.projectId, hostname };
    let query = db
      .selectFrom("custom_domains")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("workspace_id", "=", req.workspaceId)
      .where("status", "<>", "removed");
    if (req.projectId !== "") query = query.where("project_id", "=", req.projectId);
    if (hostname) query = query.where("hostname", "=", hostname);
    const page = await keysetPage(query, { config, pageToken: req.pageToken, pageSize: req.pageSize, filters }, [
      { column: "hostname", order: "asc", type: "string", value: (row) => row.hostname },
      { column: "id", order: "asc", type: "string", value: (row) => row.id },
    ]);
    return create(ListDomainsResponseSchema, { domains: page.rows.map((row) => domainToProto(row, config)), nextPageToken: page.nextPageToken });
  };
}

export function removeDomain({ db, config, ingress, logger }: ApiDeps) {
  return async (req: RemoveDomainRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const { tenantId } = principalOf(context);
    const domain = await findDomain(db, tenantId, req.domainId);
    // Withdrawing its routes is a routing change: the domain's Project object runs the removal
    // (src/customDomains/removal.ts) under the project's lock, in one transaction.
    const options = idempotent<{ domainId: string; tenantId: string }, { removed: boolean }>(scopedKey(context, "remove-domain", req.idempotencyKey));
    await viaIngress(() => ingress.objectClient(projectApi, domain.project_id).removeDomain({ domainId: domain.id, tenantId }, options));
    // Stopping the schedule is a courtesy: a scheduled check finds the domain removed anyway.
    await ingress
      .objectSendClient(domainApi, domain.id)
      .stop({}, idempotentSend(`domain-stop/${domain.id}`))
      .catch((error: unknown) => logger.warn({ err: error, domainId: domain.id }, "could not stop the domain's checks; the next one will"));
    const row = await findDomain(db, tenantId, domain.id);
    const tombstone = await db.selectFrom("domain_tombstones").select("expires_at").where("custom_domain_id", "=", row.id).executeTakeFirst();
    return create(RemoveDomainResponseSchema, {
      domain: domainToProto(row, config),
      tombstoneExpireTime: tombstone ? timestampFromDate(tombstone.expires_at) : undefined,
    });
  };
}
