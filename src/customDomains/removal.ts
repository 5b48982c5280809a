import type { Transaction } from "kysely";
import { appendEvents } from "../db/events.js";
import type { Database } from "../db/schema.js";
import { GateError } from "../domain/gates.js";
import { detachHostnames } from "../routing/detachHostnames.js";

// RemoveDomain's transaction, run by the domain's Project object (workflows/project.ts) so that
// withdrawing its routes is a routing change under the project's lock like every other. A
// verified hostname that is removed is tombstoned: for a while only the tenant that removed it
// may claim it again (and gets it back verified).

export interface RemoveDomainInput {
  domainId: string;
  /** The caller's tenant: another tenant's domain answers exactly like a missing one. */
  tenantId: string;
  projectId: string;
  tombstoneMs: number;
}

/** Removes the claim; a claim already removed is left as it is (a retry). */
export async function removeCustomDomain(trx: Transaction<Database>, input: RemoveDomainInput): Promise<{ removed: boolean }> {
  const domain = await trx.selectFrom("custom_domains").selectAll().where("id", "=", input.domainId).where("tenant_id", "=", input.tenantId).forUpdate().executeTakeFirst();
  if (!domain || domain.project_id !== input.projectId) throw new GateError("not_found", `domain ${input.domainId} not found`);
  if (domain.status === "removed") return { removed: false };
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
    const expiresAt = new Date(now.getTime() + input.tombstoneMs);
    await trx
      .insertInto("domain_tombstones")
      .values({ hostname: domain.hostname, tenant_id: domain.tenant_id, custom_domain_id: domain.id, expires_at: expiresAt })
      .onDuplicateKeyUpdate({ tenant_id: domain.tenant_id, custom_domain_id: domain.id, released_at: now, expires_at: expiresAt })
      .execute();
  }
  await appendEvents(trx, [
    { tenantId: domain.tenant_id, workspaceId: domain.workspace_id, type: "DomainRemoved", subject: domain.id, payload: { domainId: domain.id, hostname: domain.hostname } },
  ]);
  return { removed: true };
}

/**
 * Withdraws hostnames the project no longer holds a verified claim for (its claim was revoked or
 * taken over): routes, rules and gateway configs. Called through the project's Project object
 * right after the claim changed; a hostname verified for the project again by then is kept.
 */
export async function withdrawUnclaimedHostnames(trx: Transaction<Database>, input: { projectId: string; hostnames: readonly string[]; reason: string }): Promise<string[]> {
  if (input.hostnames.length === 0) return [];
  const stillVerified = new Set(
    (await trx.selectFrom("custom_domains").select("verified_hostname").where("project_id", "=", input.projectId).where("verified_hostname", "in", [...input.hostnames]).execute()).map(
      (r) => r.verified_hostname,
    ),
  );
  return detachHostnames(trx, { projectId: input.projectId, hostnames: input.hostnames.filter((h) => !stillVerified.has(h)), reason: input.reason });
}
