import type { Migration } from "kysely";
import * as initial from "./2026_11_22_000_initial.js";
import * as domainDiagnoses from "./2026_11_23_000_domain_diagnoses.js";
import * as domainCheckSlots from "./2026_11_23_001_domain_check_slots.js";
import * as certificateRenewals from "./2026_11_23_002_certificate_renewals.js";
import * as certificateLifecycle from "./2026_11_23_003_certificate_lifecycle.js";

// Every migration, by name. Static imports (no FileMigrationProvider) so the set works under tsx,
// in bundles and in tests alike. Kysely runs them in name order: add new files with a later
// date prefix and list them here.
export const migrations: Record<string, Migration> = {
  "2026_11_22_000_initial": initial,
  "2026_11_23_000_domain_diagnoses": domainDiagnoses,
  "2026_11_23_001_domain_check_slots": domainCheckSlots,
  "2026_11_23_002_certificate_renewals": certificateRenewals,
  "2026_11_23_003_certificate_lifecycle": certificateLifecycle,
};
