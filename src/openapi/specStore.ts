import type { Kysely } from "kysely";
import { newId } from "../db/ids.js";
import { fromJson, toJson, type Database } from "../db/schema.js";
import type { AnalysedDocument, SpecProblem } from "./document.js";

// openapi_documents holds each distinct spec once (by SHA-256); openapi_specs one row per
// deployment saying what its scrape found. Both writes are idempotent, so a scrape step that
// Restate runs again after a crash simply writes the same thing.

export type ScrapeOutcome = "published" | "none" | "refused";

export interface ScrapeRecord {
  deploymentId: string;
  outcome: ScrapeOutcome;
  specPath: string;
  instanceId: string | null;
  detail: string | null;
  baselineDeploymentId: string | null;
  document?: AnalysedDocument & { text: string };
}

export async function recordScrape(db: Kysely<Database>, record: ScrapeRecord): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const doc = record.document;
    if (doc) {
      await trx
        .insertInto("openapi_documents")
        .ignore()
        .values({ hash: doc.hash, content: doc.text, content_type: doc.contentType, problems: toJson(doc.problems) })
        .execute();
    }
    const fields = {
      outcome: record.outcome,
      document_hash: doc?.hash ?? null,
      spec_path: record.specPath,
      detail: record.detail,
      instance_id: record.instanceId,
      baseline_deployment_id: record.baselineDeploymentId,
    };
    await trx
      .insertInto("openapi_specs")
      .values({ id: newId("oas"), deployment_id: record.deploymentId, ...fields })
      .onDuplicateKeyUpdate(fields)
      .execute();
  });
}

export interface StoredSpec {
  deploymentId: string;
  outcome: ScrapeOutcome;
  specPath: string;
  detail: string | null;
  baselineDeploymentId: string | null;
  scrapedAt: Date;
  document: { hash: string; text: string; contentType: string; problems: SpecProblem[] } | null;
}

/** The scrape of a deployment, with its document; undefined when it was not scraped (yet). */
export async function loadSpec(db: Kysely<Database>, deploymentId: string): Promise<StoredSpec | undefined> {
  const row = await db
    .selectFrom("openapi_specs as s")
    .leftJoin("openapi_documents as d", "d.hash", "s.document_hash")
    .select(["s.deployment_id", "s.outcome", "s.spec_path", "s.detail", "s.baseline_deployment_id", "s.created_at", "d.hash", "d.content", "d.content_type", "d.problems"])
    .where("s.deployment_id", "=", deploymentId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    deploymentId: row.deployment_id,
    outcome: row.outcome as ScrapeOutcome,
    specPath: row.spec_path,
    detail: row.detail,
    baselineDeploymentId: row.baseline_deployment_id,
    scrapedAt: row.created_at,
    document:
      row.hash && row.content !== null && row.content_type && row.problems
        ? { hash: row.hash, text: row.content, contentType: row.content_type, problems: fromJson<SpecProblem[]>(row.problems) }
        : null,
  };
}

/**
 * The live deployment of a deployment's environment: for production the project's live pointer,
 * otherwise the deployment its environment hostname points at. Null when there is none.
 */
export async function environmentLiveDeployment(db: Kysely<Database>, deploymentId: string): Promise<string | null> {
  const row = await db
    .selectFrom("deployments as d")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .innerJoin("environments as e", "e.id", "d.environment_id")
    .select((eb) => [
      "e.slug",
      "p.live_deployment_id",
      eb
        .selectFrom("routes as r")
        .select("r.deployment_id")
        .whereRef("r.environment_id", "=", "d.environment_id")
        .where("r.sticky", "=", "environment")
        .orderBy("r.hostname")
        .limit(1)
        .as("environment_deployment_id"),
    ])
    .where("d.id", "=", deploymentId)
    .executeTakeFirst();
  if (!row) return null;
  return (row.slug === "production" ? row.live_deployment_id : row.environment_deployment_id) ?? null;
}
