import type { Kysely } from "kysely";
import type { Config } from "../src/config.js";
import type { Database } from "../src/db/schema.js";
import type { Logger } from "../src/log.js";
import type { BuildService } from "../src/build/buildService.js";
import type { DnsProbe } from "../src/dns/dnsProbe.js";
import type { SpecDiffer } from "../src/openapi/specDiffer.js";

/** What every Restate service of this process is built with. */
export interface WorkflowDeps {
  db: Kysely<Database>;
  config: Config;
  logger: Logger;
  builder: BuildService;
  dns: DnsProbe;
  /** Compares OpenAPI specs (the promote gate). */
  differ: SpecDiffer;
}
