import type { Kysely } from "kysely";
import type { Config } from "../config.js";
import type { Database } from "../db/schema.js";
import { analyseDocument } from "./document.js";
import { fetchSpec } from "./fetchSpec.js";
import { environmentLiveDeployment, recordScrape, type ScrapeOutcome } from "./specStore.js";

/** The largest spec stored (MEDIUMTEXT holds 16 MiB). */
export const MAX_SPEC_BYTES = 10 * 1024 * 1024;

/** What the Deployment workflow journals about a scrape: small, never the document itself. */
export interface ScrapeSummary {
  outcome: ScrapeOutcome;
  hash: string | null;
  problems: number;
  detail: string | null;
}

/**
 * Scrapes a deployment's spec from one of its running instances and records the outcome. Nothing
 * about the app's answer fails the deploy (404, too large, invalid…: recorded, the deploy goes
 * on); only a database error throws, and the step is retried.
 */
export async function scrapeDeploymentSpec(db: Kysely<Database>, config: Config, deploymentId: string): Promise<ScrapeSummary> {
  const project = await db
    .selectFrom("deployments as d")
    .innerJoin("projects as p", "p.id", "d.project_id")
    .select(["p.openapi_spec_path"])
    .where("d.id", "=", deploymentId)
    .executeTakeFirstOrThrow();
  const specPath = project.openapi_spec_path;
  const instance = await db
    .selectFrom("instances")
    .select(["id", "address"])
    .where("deployment_id", "=", deploymentId)
    .where("status", "=", "running")
    .where("address", "is not", null)
    .orderBy("region")
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  const live = await environmentLiveDeployment(db, deploymentId);
  const base = { deploymentId, specPath, instanceId: instance?.id ?? null, baselineDeploymentId: live === deploymentId ? null : live };
  if (!instance?.address) {
    const detail = "no running instance with an address to scrape";
    await recordScrape(db, { ...base, outcome: "refused", detail });
    return { outcome: "refused", hash: null, problems: 0, detail };
  }
  const fetched = await fetchSpec(instance.address, specPath, { ranges: config.instanceAddressRanges, timeoutMs: config.openapiScrapeTimeoutMs, maxBytes: MAX_SPEC_BYTES });
  if (fetched.outcome !== "published") {
    await recordScrape(db, { ...base, outcome: fetched.outcome, detail: fetched.detail });
    return { outcome: fetched.outcome, hash: null, problems: 0, detail: fetched.detail };
  }
  const document = await analyseDocument(fetched.text, fetched.contentType);
  await recordScrape(db, { ...base, outcome: "published", detail: null, document: { ...document, text: fetched.text } });
  return { outcome: "published", hash: document.hash, problems: document.problems.length, detail: null };
}
