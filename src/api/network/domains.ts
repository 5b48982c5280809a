import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely, Transaction } from "kysely";
import { isDuplicateKey } from "../../db/errors.js";
import { appendEvents } from "../../db/events.js";
import { newId } from "../../db/ids.js";
import { toJson, type CustomDomain, type Database } from "../../db/schema.js";
import { customDomainName, type CustomDomainName } from "../../domain/customDomainName.js";
import { initialConditions } from "../../domain/domainConditions.js";
import { acmeDelegationTarget, cnameTarget } from "../../domain/domainRecords.js";
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
import { decodePageToken, encodePageToken } from "../pagination.js";
import { idempotentSend, viaIngress } from "../../restate/ingress.js";
import { domainApi } from "../../../workflows/domain.js";
import type { ApiDeps } from "../server.js";
import { findProject, findWorkspace, requireId } from "../tenancy.js";
import { pageSize } from "../validation.js";
import { domainToProto } from "./domainToProto.js";
import { detachHostnames } from "../../routing/detachHostnames.js";
import { QUERIES_PER_CHECK, reserveCheckSlot } from "../../ownership/checkSlots.js";

// Custom domain claims (seed 002, invariant one-owner-per-hostname). A claim is per tenant: any
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

async function findDomain(db: Kysely<Database> | Transaction<Database>, tenantId: string, domainId: string, forUpdate = false): Promise<CustomDomain> {
  let query = db.selectFrom("custom_domains").selectAll().where("id", "=", domainId).where("tenant_id", "=", tenantId);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound("domain", domainId);
  return row;
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
    const environmentRef = req.environment === "" ? "production" : req.environment;
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
    const size = pageSize(req.pageSize);
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
    const position = decodePageToken(req.pageToken, filters);
    let query = db
      .selectFrom("custom_domains")
      .selectAll()
      .where("tenant_id", "=", tenantId)
      .where("workspace_id", "=", req.workspaceId)
      .where("status", "<>", "removed");
    if (req.projectId !== "") query = query.where("project_id", "=", req.projectId);
    if (hostname) query = query.where("hostname", "=", hostname);
    if (position) {
      query = query.where((eb) => eb.or([eb("hostname", ">", position.after), eb.and([eb("hostname", "=", position.after), eb("id", ">", position.id)])]));
    }
    const rows = await query.orderBy("hostname").orderBy("id").limit(size + 1).execute();
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return create(ListDomainsResponseSchema, {
      domains: page.map((row) => domainToProto(row, config)),
      nextPageToken: rows.length > size && last ? encodePageToken({ after: last.hostname, id: last.id }, filters) : "",
    });
  };
}

export function removeDomain({ db, config, ingress, logger }: ApiDeps) {
  return async (req: RemoveDomainRequest, context: HandlerContext) => {
    requireId("domain_id", req.domainId);
    const { tenantId } = principalOf(context);
    const { row, tombstoneExpiresAt } = await db.transaction().execute(async (trx) => {
      const domain = await findDomain(trx, tenantId, req.domainId, true);
      const tombstoneOf = async () =>
        (await trx.selectFrom("domain_tombstones").select("expires_at").where("custom_domain_id", "=", domain.id).executeTakeFirst())?.expires_at;
      if (domain.status === "removed") return { row: domain, tombstoneExpiresAt: await tombstoneOf() };
      const now = new Date();
      await trx.updateTable("custom_domains").set({ status: "removed", removed_at: now, next_check_at: null }).where("id", "=", domain.id).execute();
      // Nothing of it stays behind: routes and gateway config (only a verified claim has them),
      // ACME challenges, and this workspace's certificates (with their key material) for the name.
      if (domain.status === "verified") await detachHostnames(trx, { projectId: domain.project_id, hostnames: [domain.hostname], reason: "domain removed" });
      await trx.deleteFrom("acme_challenges").where("hostname", "=", domain.hostname).where("custom_domain_id", "=", domain.id).execute();
      await trx.deleteFrom("certificates").where("hostname", "=", domain.hostname).where("workspace_id", "=", domain.workspace_id).execute();
      // Only a proven owner reserves the name: a pending claim that is dropped must not let a
      // squatter block the real owner.
      if (domain.status === "verified") {
        const expiresAt = new Date(now.getTime() + config.domainTombstoneMs);
        await trx
          .insertInto("domain_tombstones")
          .values({ hostname: domain.hostname, tenant_id: tenantId, custom_domain_id: domain.id, expires_at: expiresAt })
          .onDuplicateKeyUpdate({ tenant_id: tenantId, custom_domain_id: domain.id, released_at: now, expires_at: expiresAt })
          .execute();
      }
      await appendEvents(trx, [
        { tenantId, workspaceId: domain.workspace_id, type: "DomainRemoved", subject: domain.id, payload: { domainId: domain.id, hostname: domain.hostname } },
      ]);
      return {
        row: await trx.selectFrom("custom_domains").selectAll().where("id", "=", domain.id).executeTakeFirstOrThrow(),
        tombstoneExpiresAt: await tombstoneOf(),
      };
    });
    // Stopping the schedule is a courtesy: a scheduled check finds the domain removed anyway.
    await ingress
      .objectSendClient(domainApi, row.id)
      .stop({}, idempotentSend(`domain-stop/${row.id}`))
      .catch((error: unknown) => logger.warn({ err: error, domainId: row.id }, "could not stop the domain's checks; the next one will"));
    return create(RemoveDomainResponseSchema, {
      domain: domainToProto(row, config),
      tombstoneExpireTime: tombstoneExpiresAt ? timestampFromDate(tombstoneExpiresAt) : undefined,
    });
  };
}
