import type { Kysely } from "kysely";
import type { FeedTailer } from "../cluster/feedTailer.js";
import type { Config } from "../config.js";
import type { Database } from "../db/schema.js";
import type { Logger } from "../log.js";
import type { Ingress } from "../restate/ingress.js";
import type { SpecDiffer } from "../openapi/specDiffer.js";

/** What every Connect handler is built from; server.ts wires it, handlers only read it. */
export interface ApiDeps {
  config: Config;
  logger: Logger;
  db: Kysely<Database>;
  /** Restate ingress: starts workflows and calls the Project object. */
  ingress: Ingress;
  /** The process's one reader of the change feed, shared by every watch stream. */
  feed: FeedTailer;
  /** Compares OpenAPI specs (GetDiff). */
  differ: SpecDiffer;
}
