import type { Transaction } from "kysely";
import type { Database } from "../db/schema.js";
import { generatedLabels, generateHostnames, labelUnderApex } from "../domain/generatedHostnames.js";
import { GateError } from "../domain/gates.js";
import { detachHostnames } from "./detachHostnames.js";

// owned-hostnames-only: which hostnames a project may route. Exactly two kinds:
//
//   <label>.<platform apex>  generated for the project — reserved for it in hostname_reservations
//                            (its live and environment labels from its creation on, a deployment's
//                            own labels from the first time they are assigned);
//   anything else            a custom domain verified for the project (custom_domains).
//
// Everything else is refused, with the same answer whoever else holds the name (or nobody):
// the refusal reveals nothing about other tenants. An owner's hostname that another project still
// routes (data from before these rules) is taken back from it in the same transaction.

export type Ownership =
  | { kind: "owned" }
  /** One of the deployment's own generated names that another project reserved first. */
  | { kind: "skipped"; reason: string }
  | { kind: "refused"; error: GateError };

export interface OwnershipInput {
  project: { id: string };
  /** The deployment the hostnames are for: its own generated names count as the project's. */
  deploymentId?: string;
  hostnames: readonly string[];
  platformApex: string;
  /** The request field naming a hostname, for messages (`domains[2].hostname`). */
  fieldOf: (hostname: string) => string;
}

/** Judges every hostname; reserves the project's generated labels that nobody reserved yet. */
export async function judgeOwnership(trx: Transaction<Database>, input: OwnershipInput): Promise<Map<string, Ownership>> {
  const { project, platformApex: apex } = input;
  const hostnames = [...new Set(input.hostnames)];
  const labelOf = new Map(hostnames.flatMap((h) => {
    const label = labelUnderApex(h, apex);
    return label ? [[h, label] as const] : [];
  }));
  const verdicts = new Map<string, Ownership>();
  const notGenerated = (hostname: string): Ownership => ({
    kind: "refused",
    error: new GateError("permission_denied", `${input.fieldOf(hostname)}: ${hostname} is not a hostname of project ${project.id}; under ${apex} a project routes only the hostnames generated for it`),
  });
  const notVerified = (hostname: string): Ownership => ({
    kind: "refused",
    error: new GateError("failed_precondition", `${input.fieldOf(hostname)}: ${hostname} is not a verified custom domain of project ${project.id}; add it with AddDomain and verify it first`),
  });

  const labels = [...new Set(labelOf.values())];
  if (labels.length > 0) {
    const reserved = new Map(
      (await trx.selectFrom("hostname_reservations").select(["label", "project_id"]).where("label", "in", labels).forUpdate().execute()).map((r) => [r.label, r.project_id]),
    );
    const deploymentLabels = new Set(input.deploymentId ? await deploymentLabelsOf(trx, input.deploymentId, apex) : []);
    const projectLabels = new Set(await projectLabelsOf(trx, project.id));
    const toReserve: string[] = [];
    for (const [hostname, label] of labelOf) {
      const holder = reserved.get(label);
      if (holder === project.id) verdicts.set(hostname, { kind: "owned" });
      else if (holder !== undefined) verdicts.set(hostname, deploymentLabels.has(label) ? { kind: "skipped", reason: "reserved for another project" } : notGenerated(hostname));
      else if (deploymentLabels.has(label) || projectLabels.has(label)) {
        verdicts.set(hostname, { kind: "owned" });
        toReserve.push(label);
      } else verdicts.set(hostname, notGenerated(hostname));
    }
    if (toReserve.length > 0) {
      await trx.insertInto("hostname_reservations").values([...new Set(toReserve)].map((label) => ({ label, project_id: project.id }))).execute();
    }
  }

  const custom = hostnames.filter((h) => !labelOf.has(h));
  const underApex = custom.filter((h) => h === apex || h.endsWith(`.${apex}`));
  for (const hostname of underApex) verdicts.set(hostname, notGenerated(hostname));
  const others = custom.filter((h) => !underApex.includes(h));
  if (others.length > 0) {
    const verified = new Set(
      (await trx.selectFrom("custom_domains").select("verified_hostname").where("verified_hostname", "in", others).where("project_id", "=", project.id).execute()).map((r) => r.verified_hostname),
    );
    for (const hostname of others) verdicts.set(hostname, verified.has(hostname) ? { kind: "owned" } : notVerified(hostname));
  }
  return verdicts;
}

/** Throws the first refusal, in the order of `hostnames`. */
export function requireOwned(verdicts: Map<string, Ownership>, hostnames: readonly string[]): void {
  for (const hostname of hostnames) {
    const verdict = verdicts.get(hostname);
    if (verdict?.kind === "refused") throw verdict.error;
  }
}

/**
 * Takes owned hostnames back from other projects that still route them (rows from before the
 * ownership rules): their routes, rules and gateway configs go, under those projects' row locks.
 * Returns the hostnames taken back.
 */
export async function reclaimHostnames(trx: Transaction<Database>, projectId: string, hostnames: readonly string[]): Promise<string[]> {
  if (hostnames.length === 0) return [];
  const held = await trx.selectFrom("routes").select(["hostname", "project_id"]).where("hostname", "in", [...hostnames]).where("project_id", "<>", projectId).execute();
  const byProject = new Map<string, string[]>();
  for (const route of held) byProject.set(route.project_id, [...(byProject.get(route.project_id) ?? []), route.hostname]);
  const reclaimed: string[] = [];
  for (const [holder, names] of byProject) {
    reclaimed.push(...(await detachHostnames(trx, { projectId: holder, hostnames: names, reason: "the hostname belongs to another project" })));
  }
  return reclaimed;
}

/**
 * Reserves a new project's or environment's labels; AlreadyExists naming `field` when another
 * project holds one (slugs join up: project "web-a" in workspace "x" and project "web" in
 * workspace "a-x" both generate web-a-x).
 */
export async function reserveLabels(trx: Transaction<Database>, projectId: string, labels: readonly string[], field: string, apex: string): Promise<void> {
  const taken = await trx.selectFrom("hostname_reservations").select(["label", "project_id"]).where("label", "in", [...labels]).forUpdate().execute();
  const other = taken.find((r) => r.project_id !== projectId);
  if (other) throw new GateError("already_exists", `${field}: the hostname ${other.label}.${apex} it would get is already taken; choose another slug`);
  const mine = new Set(taken.map((r) => r.label));
  const fresh = labels.filter((label) => !mine.has(label));
  if (fresh.length > 0) await trx.insertInto("hostname_reservations").values(fresh.map((label) => ({ label, project_id: projectId }))).execute();
}

/** The labels a deployment's own generated hostnames have (its commit, branch, environment, live). */
async function deploymentLabelsOf(trx: Transaction<Database>, deploymentId: string, apex: string): Promise<string[]> {
  const row = await trx
    .selectFrom("deployments as d")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .innerJoin("workspaces as w", "w.id", "d.workspace_id")
    .innerJoin("environments as e", "e.id", "d.environment_id")
    .select(["d.id", "d.git_sha", "d.git_branch", "p.slug as project_slug", "w.slug as workspace_slug", "e.slug as environment_slug"])
    .where("d.id", "=", deploymentId)
    .executeTakeFirst();
  if (!row) return [];
  return generateHostnames({
    apex,
    workspaceSlug: row.workspace_slug,
    projectSlug: row.project_slug,
    environmentSlug: row.environment_slug,
    isProduction: row.environment_slug === "production",
    deploymentId: row.id,
    gitSha: row.git_sha ?? undefined,
    gitBranch: row.git_branch ?? undefined,
  }).flatMap((g) => labelUnderApex(g.hostname, apex) ?? []);
}

/** The project's live and environment labels, from its slugs. */
async function projectLabelsOf(trx: Transaction<Database>, projectId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom("projects as p")
    .innerJoin("workspaces as w", "w.id", "p.workspace_id")
    .innerJoin("environments as e", "e.project_id", "p.id")
    .select(["p.slug as project_slug", "w.slug as workspace_slug", "e.slug as environment_slug"])
    .where("p.id", "=", projectId)
    .execute();
  if (rows.length === 0) return [];
  return generatedLabels({ workspaceSlug: rows[0]!.workspace_slug, projectSlug: rows[0]!.project_slug, environmentSlugs: rows.map((r) => r.environment_slug) });
}
