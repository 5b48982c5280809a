import type { ColumnType, Generated, Insertable, Selectable, Updateable } from "kysely";

// The one typed view of the database. Table and column names are snake_case, exactly as in SQL.
//
// Type conventions (they hold because of the pool options in connect.ts):
// - DATETIME(3) columns are `Date`, always UTC (session time_zone '+00:00', mysql2 timezone 'Z').
// - BOOLEAN (TINYINT(1)) columns are `boolean` (connect.ts casts TINYINT(1) to boolean).
// - BIGINT columns are `number`: versions and event ids stay far below 2^53.
// - VARBINARY/BLOB columns are `Buffer`.
// - JSON is stored as TEXT holding serialised JSON and typed `JsonText` (a string). Callers
//   JSON.stringify on write and JSON.parse on read (see `toJson`/`fromJson`); a CHECK
//   (json_valid(...)) on every such column rejects malformed text. We do not use the JSON column
//   type: MySQL returns it parsed and MariaDB returns it as text, so one codec for both is TEXT.
// - Hostnames are lowercase A-labels (UTS-46 already applied) in ASCII/binary columns; a
//   wildcard is stored with its `*.` label (`*.example.com`).
// - Columns with a database default or ON UPDATE are `Generated<>` (optional on insert);
//   stored generated columns are read-only (`ReadOnly<>`).

/** Serialised JSON text. */
export type JsonText = string;

/** A column computed by the database: selectable, never written. */
export type ReadOnly<T> = ColumnType<T, never, never>;

/** created_at / updated_at: defaulted by the database, may be set explicitly. */
export type CreatedAt = Generated<Date>;
export type UpdatedAt = Generated<Date>;

export function toJson(value: unknown): JsonText {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("toJson: value is not JSON-serialisable");
  return text;
}

export function fromJson<T = unknown>(text: JsonText): T;
export function fromJson<T = unknown>(text: JsonText | null): T | null;
export function fromJson<T = unknown>(text: JsonText | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export type StickyLevel = "commit" | "branch" | "environment" | "live";
export type DesiredStatus = "running" | "standby" | "stopped";
export type CustomDomainStatus = "pending" | "verified" | "revoked" | "removed";
export type AcmeChallengeType = "http-01" | "dns-01";

export interface WorkspacesTable {
  id: string;
  /** Tenant that owns the workspace (an API token maps to one tenant). */
  tenant_id: string;
  /** Globally unique: it appears in generated hostnames. */
  slug: string;
  name: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ProjectsTable {
  id: string;
  workspace_id: string;
  slug: string;
  name: string;
  live_deployment_id: string | null;
  is_rolled_back: Generated<boolean>;
  /** Where the deployment's OpenAPI spec is fetched from on an instance. */
  openapi_spec_path: Generated<string>;
  /** 'allow' | 'warn' | 'block': what a promote does with breaking API changes. */
  breaking_changes: Generated<string>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface EnvironmentsTable {
  id: string;
  project_id: string;
  slug: string;
  created_at: CreatedAt;
}

export interface DeploymentsTable {
  id: string;
  workspace_id: string;
  project_id: string;
  environment_id: string;
  status: string;
  image: string | null;
  /** JSON array of strings, or NULL for the image's default command. */
  command: JsonText | null;
  port: number | null;
  /** JSON object of environment variables. */
  env: JsonText | null;
  /** Instances per region. */
  replicas: Generated<number>;
  /** Path the agents health-check; NULL = "/". */
  health_check_path: string | null;
  /** How long an instance may take to become healthy; NULL = the agent's default. */
  startup_timeout_ms: number | null;
  git_sha: string | null;
  git_branch: string | null;
  git_message: string | null;
  git_author: string | null;
  git_repository: string | null;
  /** Directory of the repository holding the Containerfile (NULL = its root). */
  git_directory: string | null;
  /** Restate invocation id of the deployment workflow. */
  invocation_id: string | null;
  /** Restate awakeable the workflow waits on until every region reports running. */
  awakeable_id: string | null;
  idempotency_key: string | null;
  error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface DeploymentStepsTable {
  deployment_id: string;
  phase: string;
  status: string;
  started_at: Generated<Date>;
  ended_at: Date | null;
  error: string | null;
}

/** One stage of a deployment's build (fetch, build, push; or resolve), with its log tail. */
export interface BuildStepsTable {
  deployment_id: string;
  name: string;
  position: number;
  status: string;
  started_at: Generated<Date>;
  ended_at: Date | null;
  log_tail: string | null;
  error: string | null;
}

export interface DeploymentTopologyTable {
  deployment_id: string;
  region: string;
  desired_status: DesiredStatus;
  replicas: number;
  /** Version (from the change feed) of the last write. */
  version: number;
  /** `observed_version` of the last status report applied; older reports are ignored. */
  reported_version: Generated<number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** What an agent reported; primary key (deployment_id, region, id): ids are the agent's, per deployment. */
export interface InstancesTable {
  id: string;
  deployment_id: string;
  region: string;
  status: string;
  address: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** Generated-hostname routing (the seeds' "domains" / frontline routes). */
export interface RoutesTable {
  id: string;
  hostname: string;
  workspace_id: string;
  project_id: string;
  environment_id: string | null;
  deployment_id: string;
  /** 'commit' = per-commit hostname (the seeds' UNSPECIFIED), never moved by promotion;
   *  'branch' / 'environment' / 'live' follow the newest deployment at that level;
   *  NULL = no sticky level (pinned to deployment_id). */
  sticky: StickyLevel | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface GatewayConfigsTable {
  hostname: string;
  workspace_id: string;
  project_id: string;
  deployment_id: string;
  config: JsonText;
  certificate_id: string | null;
  version: number;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface CustomDomainsTable {
  id: string;
  tenant_id: string;
  workspace_id: string;
  project_id: string;
  environment_id: string | null;
  /** Lowercase A-label; a wildcard keeps its `*.` label. */
  hostname: string;
  unicode_hostname: string;
  wildcard: boolean;
  tls: Generated<boolean>;
  verification_token: string;
  cname_target: string;
  status: CustomDomainStatus;
  verified_at: Date | null;
  /** JSON array of conditions ({type, status, reason, message, lastTransitionTime}). */
  conditions: JsonText;
  /** JSON array of {problem, fix} found by the last check. */
  diagnoses: Generated<JsonText>;
  next_check_at: Date | null;
  check_attempt: Generated<number>;
  removed_at: Date | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** hostname while status = 'verified', else NULL; UNIQUE → one verified owner per hostname. */
  verified_hostname: ReadOnly<string | null>;
  /** hostname while status <> 'removed', else NULL; UNIQUE with tenant_id. */
  claim_hostname: ReadOnly<string | null>;
}

/** A released hostname; only `tenant_id` may claim it again before `expires_at`. */
/** A label under the platform apex and the project its generated hostname belongs to. */
export interface HostnameReservationsTable {
  label: string;
  project_id: string;
  created_at: CreatedAt;
}

export interface DomainTombstonesTable {
  hostname: string;
  tenant_id: string;
  custom_domain_id: string | null;
  released_at: Generated<Date>;
  expires_at: Date;
}

/** Envelope-encrypted private key columns (AES-256-GCM; see src/vault). */
export interface EncryptedKeyColumns {
  key_ciphertext: Buffer;
  key_nonce: Buffer;
  key_tag: Buffer;
  /** The data key, wrapped by the master key (format owned by src/vault). */
  wrapped_data_key: Buffer;
  master_key_id: string;
}

export interface AcmeUsersTable extends EncryptedKeyColumns {
  id: string;
  /** 'platform' or a workspace id. */
  scope: string;
  directory_url: string;
  email: string | null;
  registration_uri: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface AcmeChallengesTable {
  id: string;
  custom_domain_id: string | null;
  hostname: string;
  type: AcmeChallengeType;
  token: string;
  key_authorization: string;
  dns_name: string | null;
  txt_value: string | null;
  status: string;
  expires_at: Date | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface CertificatesTable {
  id: string;
  hostname: string;
  custom_domain_id: string | null;
  workspace_id: string | null;
  status: string;
  pem_chain: string | null;
  key_ciphertext: Buffer | null;
  key_nonce: Buffer | null;
  key_tag: Buffer | null;
  wrapped_data_key: Buffer | null;
  master_key_id: string | null;
  not_before: Date | null;
  not_after: Date | null;
  renew_at: Date | null;
  auto_renew: Generated<boolean>;
  issuer: string | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  /** Failed order attempts in a row; the next one waits by the retry backoff. */
  attempts: Generated<number>;
  next_attempt_at: Date | null;
  /** hostname while status = 'issued', else NULL; UNIQUE → one issued certificate per hostname. */
  issued_hostname: ReadOnly<string | null>;
}

/** One new order an ACME account placed, kept while it counts against the order budget's window. */
export interface AcmeOrdersTable {
  id: string;
  acme_user_id: string;
  hostname: string;
  placed_at: Date;
}

export interface NetworkRoutesTable {
  id: string;
  workspace_id: string;
  project_id: string;
  hostname: string;
  deployment_id: string | null;
  path: Generated<string>;
  port: number;
  protocol: string;
  weight: number;
  strip_prefix: Generated<boolean>;
  version: number;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** Counters allocated inside writers' transactions: rows 'changes' and 'events'. */
export interface SequencesTable {
  name: string;
  value: number;
}

/** The gap-free version feed (gap-free-versions); write only through src/db/changes.ts. */
export interface ChangesTable {
  version: number;
  kind: string;
  resource_key: string;
  project_id: string | null;
  region: string | null;
  deleted: Generated<boolean>;
  payload: JsonText | null;
  created_at: CreatedAt;
}

/** The outbox (outbox-events); write only through src/db/events.ts. */
export interface EventsTable {
  id: number;
  tenant_id: string;
  workspace_id: string | null;
  type: string;
  subject: string;
  payload: JsonText;
  created_at: CreatedAt;
}

export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  workspace_id: string;
  url: string;
  /** HMAC signing secret, stored as is (it must be usable to sign; not a private key). */
  secret: string;
  /** JSON array of event types, NULL = all. */
  event_types: JsonText | null;
  enabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  event_id: number;
  attempt: number;
  status: string;
  response_code: number | null;
  error: string | null;
  next_attempt_at: Date | null;
  created_at: CreatedAt;
}

/** One scrape per deployment: what happened, and the document it found (src/openapi/). */
export interface OpenapiSpecsTable {
  id: string;
  deployment_id: string;
  /** 'published' (document_hash set), 'none' (the app answered 404) or 'refused' (see detail). */
  outcome: Generated<string>;
  document_hash: string | null;
  spec_path: Generated<string>;
  detail: string | null;
  instance_id: string | null;
  /** The environment's live deployment when this one was scraped (GetDiff's default baseline). */
  baseline_deployment_id: string | null;
  created_at: CreatedAt;
}

/** A spec's bytes, once per SHA-256, with its validation problems (JSON array of strings). */
export interface OpenapiDocumentsTable {
  hash: string;
  content: string;
  content_type: string;
  problems: JsonText;
  created_at: CreatedAt;
}

/** Per feed ('changes', 'events'): the highest version / id pruned so far (src/db/retention.ts). */
export interface RetentionTable {
  feed: string;
  pruned_through: Generated<number>;
  pruned_at: Date | null;
}

/** Results of transactions already applied by a Restate step (exactly-once on re-run). */
export interface OperationsTable {
  id: string;
  result: JsonText;
  created_at: CreatedAt;
}

/** The last Heartbeat of each agent and gateway, per region (src/cluster/heartbeats.ts). */
export interface RegionHeartbeatsTable {
  region: string;
  /** The process's `agent_id` (an agent's or a gateway's). */
  process_id: string;
  process_version: Generated<string>;
  deployments_version: Generated<number>;
  gateway_configs_version: Generated<number>;
  first_seen_at: CreatedAt;
  last_seen_at: Generated<Date>;
}

export interface Database {
  workspaces: WorkspacesTable;
  projects: ProjectsTable;
  environments: EnvironmentsTable;
  deployments: DeploymentsTable;
  deployment_steps: DeploymentStepsTable;
  build_steps: BuildStepsTable;
  deployment_topology: DeploymentTopologyTable;
  instances: InstancesTable;
  routes: RoutesTable;
  gateway_configs: GatewayConfigsTable;
  custom_domains: CustomDomainsTable;
  domain_tombstones: DomainTombstonesTable;
  hostname_reservations: HostnameReservationsTable;
  acme_users: AcmeUsersTable;
  acme_challenges: AcmeChallengesTable;
  acme_orders: AcmeOrdersTable;
  certificates: CertificatesTable;
  network_routes: NetworkRoutesTable;
  sequences: SequencesTable;
  changes: ChangesTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  openapi_specs: OpenapiSpecsTable;
  openapi_documents: OpenapiDocumentsTable;
  operations: OperationsTable;
  retention: RetentionTable;
  region_heartbeats: RegionHeartbeatsTable;
}

export type Workspace = Selectable<WorkspacesTable>;
export type NewWorkspace = Insertable<WorkspacesTable>;
export type Project = Selectable<ProjectsTable>;
export type NewProject = Insertable<ProjectsTable>;
export type ProjectUpdate = Updateable<ProjectsTable>;
export type Environment = Selectable<EnvironmentsTable>;
export type Deployment = Selectable<DeploymentsTable>;
export type NewDeployment = Insertable<DeploymentsTable>;
export type DeploymentUpdate = Updateable<DeploymentsTable>;
export type DeploymentStep = Selectable<DeploymentStepsTable>;
export type DeploymentTopology = Selectable<DeploymentTopologyTable>;
export type Instance = Selectable<InstancesTable>;
export type Route = Selectable<RoutesTable>;
export type NewRoute = Insertable<RoutesTable>;
export type GatewayConfig = Selectable<GatewayConfigsTable>;
export type NewGatewayConfig = Insertable<GatewayConfigsTable>;
export type CustomDomain = Selectable<CustomDomainsTable>;
export type NewCustomDomain = Insertable<CustomDomainsTable>;
export type CustomDomainUpdate = Updateable<CustomDomainsTable>;
export type DomainTombstone = Selectable<DomainTombstonesTable>;
export type AcmeUser = Selectable<AcmeUsersTable>;
export type AcmeChallenge = Selectable<AcmeChallengesTable>;
export type Certificate = Selectable<CertificatesTable>;
export type NewCertificate = Insertable<CertificatesTable>;
export type NetworkRoute = Selectable<NetworkRoutesTable>;
export type NewNetworkRoute = Insertable<NetworkRoutesTable>;
export type ChangeRow = Selectable<ChangesTable>;
export type EventRow = Selectable<EventsTable>;
export type WebhookEndpoint = Selectable<WebhookEndpointsTable>;
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type OpenapiSpec = Selectable<OpenapiSpecsTable>;
