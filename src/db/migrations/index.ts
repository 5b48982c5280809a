import type { Migration } from "kysely";
import * as initial from "./2026_11_22_000_initial.js";
import * as domainDiagnoses from "./2026_11_23_000_domain_diagnoses.js";
import * as domainCheckSlots from "./2026_11_23_001_domain_check_slots.js";
import * as certificateRenewals from "./2026_11_23_002_certificate_renewals.js";
import * as certificateLifecycle from "./2026_11_23_003_certificate_lifecycle.js";
import * as hostnameReservations from "./2026_12_01_100_hostname_reservations.js";
import * as instancesPerDeployment from "./2026_12_01_200_instances_per_deployment.js";
import * as retention from "./2026_12_01_201_retention.js";
import * as deploymentRuntime from "./2026_12_01_300_deployment_runtime.js";
import * as openapiSpecs from "./2026_12_02_500_openapi_specs.js";
import * as buildSteps from "./2026_12_02_700_build_steps.js";
import * as regionHeartbeats from "./2026_12_02_900_region_heartbeats.js";

// Every migration, by name. Static imports (no FileMigrationProvider) so the set works under tsx,
// in bundles and in tests alike. Kysely runs them in name order: add new files with a later
// date prefix and list them here.
export const migrations: Record<string, Migration> = {
  "2026_11_22_000_initial": initial,
  "2026_11_23_000_domain_diagnoses": domainDiagnoses,
  "2026_11_23_001_domain_check_slots": domainCheckSlots,
  "2026_11_23_002_certificate_renewals": certificateRenewals,
  "2026_11_23_003_certificate_lifecycle": certificateLifecycle,
  "2026_12_01_100_hostname_reservations": hostnameReservations,
  "2026_12_01_200_instances_per_deployment": instancesPerDeployment,
  "2026_12_01_201_retention": retention,
  "2026_12_01_300_deployment_runtime": deploymentRuntime,
  "2026_12_02_500_openapi_specs": openapiSpecs,
  "2026_12_02_700_build_steps": buildSteps,
  "2026_12_02_900_region_heartbeats": regionHeartbeats,
};
