import { sql, type CreateTableBuilder, type Kysely } from "kysely";

// The initial schema (docs/architecture.md, "Data"). Every statement is accepted by MySQL 8 and MariaDB 10.11.
//
// - Tables are InnoDB, utf8mb4 with the binary collation (no accent/case folding surprises);
//   identifiers, slugs, hostnames, regions and tokens are ASCII binary columns: hostnames are
//   compared as lowercase A-labels, so byte equality is the right comparison.
// - Times are DATETIME(3) in UTC (connect.ts pins the session time zone to +00:00, so the
//   CURRENT_TIMESTAMP(3) defaults are UTC too).
// - JSON lives in TEXT columns with CHECK (json_valid(...)).
// - Invariants encoded here:
//   one-owner-per-hostname: custom_domains.verified_hostname (stored generated column, NULL
//     unless status = 'verified') is UNIQUE, so at most one verified claim per hostname exists;
//     (tenant_id, claim_hostname) is UNIQUE, so a tenant holds at most one live (non-removed)
//     claim per hostname; domain_tombstones keeps a released hostname reserved for the tenant
//     that released it until `expires_at`.
//   gap-free-versions / outbox-events: `sequences` holds the counters that changes.ts and
//     events.ts bump inside the writer's transaction (the row lock orders commits).
//   routes.hostname and gateway_configs.hostname are UNIQUE; a hostname can only point at an
//     existing deployment (FK, ON DELETE RESTRICT).
// - Foreign keys: RESTRICT along the ownership chain, CASCADE only from a deployment / domain /
//   endpoint to its pure detail rows. The feed tables (changes, events) have none: a log entry
//   outlives what it describes.
//
// MySQL commits DDL implicitly, so a failure part-way leaves the tables created so far; `down`
// tolerates missing tables so it can clean up after such a failure.

const ID = sql`varchar(32) character set ascii collate ascii_bin`;
const LONG_ID = sql`varchar(64) character set ascii collate ascii_bin`;
const TENANT = sql`varchar(64) character set ascii collate ascii_bin`;
const SLUG = sql`varchar(63) character set ascii collate ascii_bin`;
const HOST = sql`varchar(253) character set ascii collate ascii_bin`;
const REGION = sql`varchar(64) character set ascii collate ascii_bin`;
const STATUS = sql`varchar(32) character set ascii collate ascii_bin`;
const URL_TEXT = sql`varchar(1024) character set ascii collate ascii_bin`;
const TS = sql`datetime(3)`;
const NOW = sql`current_timestamp(3)`;
const BIGINT = sql`bigint unsigned`;
const TABLE_OPTIONS = sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`;

type Table = CreateTableBuilder<string, string>;

function createTable(db: Kysely<any>, name: string): Table {
  return db.schema.createTable(name).modifyEnd(TABLE_OPTIONS) as Table;
}

function timestamps(table: Table, withUpdatedAt = true): Table {
  const created = table.addColumn("created_at", TS, (c) => c.notNull().defaultTo(NOW));
  return withUpdatedAt
    ? created.addColumn("updated_at", TS, (c) => c.notNull().defaultTo(NOW).modifyEnd(sql`on update current_timestamp(3)`))
    : created;
}

function jsonCheck(table: Table, tableName: string, column: string): Table {
  return table.addCheckConstraint(`${tableName}_${column}_json`, sql`json_valid(${sql.ref(column)})`);
}

function oneOf(values: string[]) {
  return sql.join(values.map((v) => sql.lit(v)));
}

export async function up(db: Kysely<any>): Promise<void> {
  // --- tenancy --------------------------------------------------------------------------
  await timestamps(
    createTable(db, "workspaces")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("tenant_id", TENANT, (c) => c.notNull())
      .addColumn("slug", SLUG, (c) => c.notNull())
      .addColumn("name", sql`varchar(255)`, (c) => c.notNull()),
  )
    .addUniqueConstraint("workspaces_slug_uq", ["slug"])
    .execute();
  await db.schema.createIndex("workspaces_tenant_idx").on("workspaces").columns(["tenant_id", "created_at"]).execute();

  await timestamps(
    createTable(db, "projects")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("slug", SLUG, (c) => c.notNull())
      .addColumn("name", sql`varchar(255)`, (c) => c.notNull())
      .addColumn("live_deployment_id", ID)
      .addColumn("is_rolled_back", "boolean", (c) => c.notNull().defaultTo(false)),
  )
    .addUniqueConstraint("projects_workspace_slug_uq", ["workspace_id", "slug"])
    .addForeignKeyConstraint("projects_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .execute();

  await timestamps(
    createTable(db, "environments")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("slug", SLUG, (c) => c.notNull()),
    false,
  )
    .addUniqueConstraint("environments_project_slug_uq", ["project_id", "slug"])
    .addForeignKeyConstraint("environments_project_fk", ["project_id"], "projects", ["id"])
    .execute();

  // --- deployments ----------------------------------------------------------------------
  let deployments = timestamps(
    createTable(db, "deployments")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("environment_id", ID, (c) => c.notNull())
      .addColumn("status", STATUS, (c) => c.notNull())
      .addColumn("image", sql`varchar(1024)`)
      .addColumn("command", sql`text`)
      .addColumn("port", sql`smallint unsigned`)
      .addColumn("env", sql`mediumtext`)
      .addColumn("git_sha", sql`varchar(64) character set ascii collate ascii_bin`)
      .addColumn("git_branch", sql`varchar(255)`)
      .addColumn("git_message", sql`text`)
      .addColumn("git_author", sql`varchar(255)`)
      .addColumn("git_repository", sql`varchar(1024)`)
      .addColumn("invocation_id", sql`varchar(128) character set ascii collate ascii_bin`)
      // Restate awakeable the workflow waits on until every region reports running.
      .addColumn("awakeable_id", sql`varchar(255) character set ascii collate ascii_bin`)
      .addColumn("idempotency_key", sql`varchar(255)`)
      .addColumn("error", sql`text`),
  )
    // MySQL and MariaDB allow any number of NULLs in a UNIQUE index: keys are unique when given.
    .addUniqueConstraint("deployments_project_idempotency_uq", ["project_id", "idempotency_key"])
    .addForeignKeyConstraint("deployments_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .addForeignKeyConstraint("deployments_project_fk", ["project_id"], "projects", ["id"])
    .addForeignKeyConstraint("deployments_environment_fk", ["environment_id"], "environments", ["id"]);
  deployments = jsonCheck(deployments, "deployments", "command");
  deployments = jsonCheck(deployments, "deployments", "env");
  await deployments.execute();
  await db.schema.createIndex("deployments_project_created_idx").on("deployments").columns(["project_id", "created_at"]).execute();
  await db.schema
    .createIndex("deployments_project_env_status_idx")
    .on("deployments")
    .columns(["project_id", "environment_id", "status"])
    .execute();
  await db.schema.createIndex("deployments_git_branch_idx").on("deployments").columns(["git_branch"]).execute();

  // The live pointer closes a cycle (deployments → projects → deployments): add it afterwards.
  await db.schema
    .alterTable("projects")
    .addForeignKeyConstraint("projects_live_deployment_fk", ["live_deployment_id"], "deployments", ["id"])
    .execute();

  await createTable(db, "deployment_steps")
    .addColumn("deployment_id", ID, (c) => c.notNull())
    .addColumn("phase", sql`varchar(64) character set ascii collate ascii_bin`, (c) => c.notNull())
    .addColumn("status", STATUS, (c) => c.notNull())
    .addColumn("started_at", TS, (c) => c.notNull().defaultTo(NOW))
    .addColumn("ended_at", TS)
    .addColumn("error", sql`text`)
    .addPrimaryKeyConstraint("deployment_steps_pk", ["deployment_id", "phase"])
    .addForeignKeyConstraint("deployment_steps_deployment_fk", ["deployment_id"], "deployments", ["id"], (fk) =>
      fk.onDelete("cascade"),
    )
    .execute();

  await timestamps(
    createTable(db, "deployment_topology")
      .addColumn("deployment_id", ID, (c) => c.notNull())
      .addColumn("region", REGION, (c) => c.notNull())
      .addColumn("desired_status", STATUS, (c) => c.notNull())
      .addColumn("replicas", sql`int unsigned`, (c) => c.notNull())
      .addColumn("version", BIGINT, (c) => c.notNull()),
  )
    .addPrimaryKeyConstraint("deployment_topology_pk", ["deployment_id", "region"])
    .addCheckConstraint(
      "deployment_topology_desired_status_ck",
      sql`desired_status in (${oneOf(["running", "standby", "stopped"])})`,
    )
    .addForeignKeyConstraint("deployment_topology_deployment_fk", ["deployment_id"], "deployments", ["id"], (fk) =>
      fk.onDelete("cascade"),
    )
    .execute();
  await db.schema.createIndex("deployment_topology_region_version_idx").on("deployment_topology").columns(["region", "version"]).execute();

  await timestamps(
    createTable(db, "instances")
      .addColumn("id", LONG_ID, (c) => c.primaryKey())
      .addColumn("deployment_id", ID, (c) => c.notNull())
      .addColumn("region", REGION, (c) => c.notNull())
      .addColumn("status", STATUS, (c) => c.notNull())
      .addColumn("address", sql`varchar(255) character set ascii collate ascii_bin`),
  )
    .addForeignKeyConstraint("instances_deployment_fk", ["deployment_id"], "deployments", ["id"], (fk) => fk.onDelete("cascade"))
    .execute();
  await db.schema.createIndex("instances_deployment_region_idx").on("instances").columns(["deployment_id", "region"]).execute();

  // --- routing ----------------------------------------------------------------------------
  await timestamps(
    createTable(db, "routes")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("hostname", HOST, (c) => c.notNull())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("environment_id", ID)
      .addColumn("deployment_id", ID, (c) => c.notNull())
      .addColumn("sticky", STATUS),
  )
    .addUniqueConstraint("routes_hostname_uq", ["hostname"])
    .addCheckConstraint("routes_sticky_ck", sql`sticky in (${oneOf(["commit", "branch", "environment", "live"])})`)
    .addForeignKeyConstraint("routes_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .addForeignKeyConstraint("routes_project_fk", ["project_id"], "projects", ["id"])
    .addForeignKeyConstraint("routes_environment_fk", ["environment_id"], "environments", ["id"])
    .addForeignKeyConstraint("routes_deployment_fk", ["deployment_id"], "deployments", ["id"])
    .execute();
  await db.schema.createIndex("routes_project_sticky_idx").on("routes").columns(["project_id", "environment_id", "sticky"]).execute();
  await db.schema.createIndex("routes_deployment_idx").on("routes").columns(["deployment_id"]).execute();

  await createTable(db, "certificates")
    .addColumn("id", ID, (c) => c.primaryKey())
    .addColumn("hostname", HOST, (c) => c.notNull())
    .addColumn("custom_domain_id", ID)
    .addColumn("workspace_id", ID)
    .addColumn("status", STATUS, (c) => c.notNull())
    .addColumn("pem_chain", sql`mediumtext`)
    .addColumn("key_ciphertext", sql`blob`)
    .addColumn("key_nonce", sql`varbinary(32)`)
    .addColumn("key_tag", sql`varbinary(32)`)
    .addColumn("wrapped_data_key", sql`varbinary(1024)`)
    .addColumn("master_key_id", LONG_ID)
    .addColumn("not_before", TS)
    .addColumn("not_after", TS)
    .addColumn("renew_at", TS)
    .addColumn("auto_renew", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("issuer", sql`varchar(255)`)
    .addColumn("last_error", sql`text`)
    .$call((t) => timestamps(t as Table))
    .addUniqueConstraint("certificates_hostname_uq", ["hostname"])
    // A key is stored whole or not at all.
    .addCheckConstraint(
      "certificates_key_envelope_ck",
      sql`(key_ciphertext is null) = (key_nonce is null) and (key_ciphertext is null) = (key_tag is null)
        and (key_ciphertext is null) = (wrapped_data_key is null) and (key_ciphertext is null) = (master_key_id is null)`,
    )
    .addForeignKeyConstraint("certificates_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .execute();
  await db.schema.createIndex("certificates_renew_idx").on("certificates").columns(["auto_renew", "renew_at"]).execute();
  await db.schema.createIndex("certificates_custom_domain_idx").on("certificates").columns(["custom_domain_id"]).execute();

  let gatewayConfigs = timestamps(
    createTable(db, "gateway_configs")
      .addColumn("hostname", HOST, (c) => c.primaryKey())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("deployment_id", ID, (c) => c.notNull())
      .addColumn("config", sql`mediumtext`, (c) => c.notNull())
      .addColumn("certificate_id", ID)
      .addColumn("version", BIGINT, (c) => c.notNull()),
  )
    .addForeignKeyConstraint("gateway_configs_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .addForeignKeyConstraint("gateway_configs_project_fk", ["project_id"], "projects", ["id"])
    .addForeignKeyConstraint("gateway_configs_deployment_fk", ["deployment_id"], "deployments", ["id"])
    .addForeignKeyConstraint("gateway_configs_certificate_fk", ["certificate_id"], "certificates", ["id"], (fk) =>
      fk.onDelete("set null"),
    );
  gatewayConfigs = jsonCheck(gatewayConfigs, "gateway_configs", "config");
  await gatewayConfigs.execute();
  await db.schema.createIndex("gateway_configs_project_idx").on("gateway_configs").columns(["project_id"]).execute();

  await timestamps(
    createTable(db, "network_routes")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("hostname", HOST, (c) => c.notNull())
      .addColumn("deployment_id", ID)
      .addColumn("path", sql`varchar(512) character set ascii collate ascii_bin`, (c) => c.notNull().defaultTo("/"))
      .addColumn("port", sql`smallint unsigned`, (c) => c.notNull())
      .addColumn("protocol", sql`varchar(16) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("weight", sql`tinyint unsigned`, (c) => c.notNull())
      .addColumn("strip_prefix", "boolean", (c) => c.notNull().defaultTo(false))
      .addColumn("version", BIGINT, (c) => c.notNull()),
  )
    .addForeignKeyConstraint("network_routes_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .addForeignKeyConstraint("network_routes_project_fk", ["project_id"], "projects", ["id"])
    .addForeignKeyConstraint("network_routes_deployment_fk", ["deployment_id"], "deployments", ["id"])
    .execute();
  await db.schema.createIndex("network_routes_hostname_path_idx").on("network_routes").columns(["hostname", "path"]).execute();
  await db.schema.createIndex("network_routes_project_idx").on("network_routes").columns(["project_id"]).execute();

  // --- custom domains and ACME ------------------------------------------------------------
  let customDomains = timestamps(
    createTable(db, "custom_domains")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("tenant_id", TENANT, (c) => c.notNull())
      .addColumn("workspace_id", ID, (c) => c.notNull())
      .addColumn("project_id", ID, (c) => c.notNull())
      .addColumn("environment_id", ID)
      .addColumn("hostname", HOST, (c) => c.notNull())
      .addColumn("unicode_hostname", sql`varchar(253)`, (c) => c.notNull())
      .addColumn("wildcard", "boolean", (c) => c.notNull())
      .addColumn("tls", "boolean", (c) => c.notNull().defaultTo(true))
      .addColumn("verification_token", sql`varchar(128) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("cname_target", HOST, (c) => c.notNull())
      .addColumn("status", STATUS, (c) => c.notNull())
      .addColumn("verified_at", TS)
      .addColumn("conditions", sql`text`, (c) => c.notNull())
      .addColumn("next_check_at", TS)
      .addColumn("check_attempt", sql`int unsigned`, (c) => c.notNull().defaultTo(0))
      .addColumn("removed_at", TS),
  )
    .addColumn("verified_hostname", HOST, (c) =>
      c.generatedAlwaysAs(sql`case when status = 'verified' then hostname end`).stored(),
    )
    .addColumn("claim_hostname", HOST, (c) => c.generatedAlwaysAs(sql`case when status <> 'removed' then hostname end`).stored())
    .addUniqueConstraint("custom_domains_verified_hostname_uq", ["verified_hostname"])
    .addUniqueConstraint("custom_domains_tenant_claim_uq", ["tenant_id", "claim_hostname"])
    .addCheckConstraint("custom_domains_status_ck", sql`status in (${oneOf(["pending", "verified", "revoked", "removed"])})`)
    .addCheckConstraint("custom_domains_wildcard_ck", sql`wildcard = (hostname like '*.%')`)
    .addForeignKeyConstraint("custom_domains_workspace_fk", ["workspace_id"], "workspaces", ["id"])
    .addForeignKeyConstraint("custom_domains_project_fk", ["project_id"], "projects", ["id"])
    .addForeignKeyConstraint("custom_domains_environment_fk", ["environment_id"], "environments", ["id"]);
  customDomains = jsonCheck(customDomains, "custom_domains", "conditions");
  await customDomains.execute();
  await db.schema.createIndex("custom_domains_hostname_idx").on("custom_domains").columns(["hostname"]).execute();
  await db.schema.createIndex("custom_domains_check_idx").on("custom_domains").columns(["status", "next_check_at"]).execute();

  await db.schema
    .alterTable("certificates")
    .addForeignKeyConstraint("certificates_custom_domain_fk", ["custom_domain_id"], "custom_domains", ["id"], (fk) =>
      fk.onDelete("set null"),
    )
    .execute();

  await createTable(db, "domain_tombstones")
    .addColumn("hostname", HOST, (c) => c.primaryKey())
    .addColumn("tenant_id", TENANT, (c) => c.notNull())
    .addColumn("custom_domain_id", ID)
    .addColumn("released_at", TS, (c) => c.notNull().defaultTo(NOW))
    .addColumn("expires_at", TS, (c) => c.notNull())
    .addForeignKeyConstraint("domain_tombstones_custom_domain_fk", ["custom_domain_id"], "custom_domains", ["id"], (fk) =>
      fk.onDelete("set null"),
    )
    .execute();
  await db.schema.createIndex("domain_tombstones_expires_idx").on("domain_tombstones").columns(["expires_at"]).execute();

  await timestamps(
    createTable(db, "acme_users")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("scope", ID, (c) => c.notNull())
      .addColumn("directory_url", sql`varchar(512) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("email", sql`varchar(255)`)
      .addColumn("key_ciphertext", sql`blob`, (c) => c.notNull())
      .addColumn("key_nonce", sql`varbinary(32)`, (c) => c.notNull())
      .addColumn("key_tag", sql`varbinary(32)`, (c) => c.notNull())
      .addColumn("wrapped_data_key", sql`varbinary(1024)`, (c) => c.notNull())
      .addColumn("master_key_id", LONG_ID, (c) => c.notNull())
      .addColumn("registration_uri", URL_TEXT),
  )
    .addUniqueConstraint("acme_users_scope_directory_uq", ["scope", "directory_url"])
    .execute();

  await timestamps(
    createTable(db, "acme_challenges")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("custom_domain_id", ID)
      .addColumn("hostname", HOST, (c) => c.notNull())
      .addColumn("type", STATUS, (c) => c.notNull())
      .addColumn("token", sql`varchar(255) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("key_authorization", sql`varchar(512) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("dns_name", HOST)
      .addColumn("txt_value", sql`varchar(255) character set ascii collate ascii_bin`)
      .addColumn("status", STATUS, (c) => c.notNull())
      .addColumn("expires_at", TS),
  )
    .addUniqueConstraint("acme_challenges_custom_domain_uq", ["custom_domain_id"])
    .addCheckConstraint("acme_challenges_type_ck", sql`type in (${oneOf(["http-01", "dns-01"])})`)
    .addForeignKeyConstraint("acme_challenges_custom_domain_fk", ["custom_domain_id"], "custom_domains", ["id"], (fk) =>
      fk.onDelete("cascade"),
    )
    .execute();
  await db.schema.createIndex("acme_challenges_token_idx").on("acme_challenges").columns(["token"]).execute();
  await db.schema.createIndex("acme_challenges_dns_name_idx").on("acme_challenges").columns(["dns_name"]).execute();
  await db.schema.createIndex("acme_challenges_hostname_idx").on("acme_challenges").columns(["hostname"]).execute();

  // --- change feed and outbox ------------------------------------------------------------
  await createTable(db, "sequences")
    .addColumn("name", sql`varchar(32) character set ascii collate ascii_bin`, (c) => c.primaryKey())
    .addColumn("value", BIGINT, (c) => c.notNull())
    .execute();
  await db.insertInto("sequences").values([
    { name: "changes", value: 0 },
    { name: "events", value: 0 },
  ]).execute();

  await jsonCheck(
    createTable(db, "changes")
      .addColumn("version", BIGINT, (c) => c.primaryKey())
      .addColumn("kind", sql`varchar(32) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("resource_key", sql`varchar(512) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("project_id", ID)
      .addColumn("region", REGION)
      .addColumn("deleted", "boolean", (c) => c.notNull().defaultTo(false))
      .addColumn("payload", sql`mediumtext`)
      .addColumn("created_at", TS, (c) => c.notNull().defaultTo(NOW)),
    "changes",
    "payload",
  ).execute();
  await db.schema.createIndex("changes_kind_version_idx").on("changes").columns(["kind", "version"]).execute();
  await db.schema.createIndex("changes_region_version_idx").on("changes").columns(["region", "version"]).execute();
  await db.schema.createIndex("changes_project_version_idx").on("changes").columns(["project_id", "version"]).execute();

  await jsonCheck(
    createTable(db, "events")
      .addColumn("id", BIGINT, (c) => c.primaryKey())
      .addColumn("tenant_id", TENANT, (c) => c.notNull())
      .addColumn("workspace_id", ID)
      .addColumn("type", sql`varchar(64) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("subject", sql`varchar(512) character set ascii collate ascii_bin`, (c) => c.notNull())
      .addColumn("payload", sql`mediumtext`, (c) => c.notNull())
      .addColumn("created_at", TS, (c) => c.notNull().defaultTo(NOW)),
    "events",
    "payload",
  ).execute();
  await db.schema.createIndex("events_tenant_id_idx").on("events").columns(["tenant_id", "id"]).execute();
  await db.schema.createIndex("events_workspace_id_idx").on("events").columns(["workspace_id", "id"]).execute();
  await db.schema.createIndex("events_type_id_idx").on("events").columns(["type", "id"]).execute();

  await jsonCheck(
    timestamps(
      createTable(db, "webhook_endpoints")
        .addColumn("id", ID, (c) => c.primaryKey())
        .addColumn("tenant_id", TENANT, (c) => c.notNull())
        .addColumn("workspace_id", ID, (c) => c.notNull())
        .addColumn("url", sql`varchar(2048)`, (c) => c.notNull())
        .addColumn("secret", sql`varchar(255)`, (c) => c.notNull())
        .addColumn("event_types", sql`text`)
        .addColumn("enabled", "boolean", (c) => c.notNull().defaultTo(true)),
    ).addForeignKeyConstraint("webhook_endpoints_workspace_fk", ["workspace_id"], "workspaces", ["id"]),
    "webhook_endpoints",
    "event_types",
  ).execute();

  await timestamps(
    createTable(db, "webhook_deliveries")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("endpoint_id", ID, (c) => c.notNull())
      .addColumn("event_id", BIGINT, (c) => c.notNull())
      .addColumn("attempt", sql`int unsigned`, (c) => c.notNull())
      .addColumn("status", STATUS, (c) => c.notNull())
      .addColumn("response_code", sql`smallint unsigned`)
      .addColumn("error", sql`text`)
      .addColumn("next_attempt_at", TS),
    false,
  )
    .addUniqueConstraint("webhook_deliveries_attempt_uq", ["endpoint_id", "event_id", "attempt"])
    .addForeignKeyConstraint("webhook_deliveries_endpoint_fk", ["endpoint_id"], "webhook_endpoints", ["id"], (fk) =>
      fk.onDelete("cascade"),
    )
    .execute();
  await db.schema.createIndex("webhook_deliveries_due_idx").on("webhook_deliveries").columns(["status", "next_attempt_at"]).execute();

  // --- OpenAPI ----------------------------------------------------------------------------
  await timestamps(
    createTable(db, "openapi_specs")
      .addColumn("id", ID, (c) => c.primaryKey())
      .addColumn("deployment_id", ID, (c) => c.notNull())
      .addColumn("spec", sql`mediumtext`, (c) => c.notNull()),
    false,
  )
    .addUniqueConstraint("openapi_specs_deployment_uq", ["deployment_id"])
    .addForeignKeyConstraint("openapi_specs_deployment_fk", ["deployment_id"], "deployments", ["id"], (fk) =>
      fk.onDelete("cascade"),
    )
    .execute();

  // Transactions run inside Restate steps may be re-run after a crash between commit and the
  // journal entry; each records its step id here, in the same transaction, so a re-run returns
  // the first result instead of writing twice (see src/db/operations.ts).
  await createTable(db, "operations")
    .addColumn("id", sql`varchar(255) character set ascii collate ascii_bin`, (c) => c.primaryKey())
    .addColumn("result", sql`mediumtext`, (c) => c.notNull())
    .addColumn("created_at", TS, (c) => c.notNull().defaultTo(NOW))
    .execute();
}

/** Children before parents; the two back-references are dropped first. */
const TABLES_IN_DROP_ORDER = [
  "operations",
  "openapi_specs",
  "webhook_deliveries",
  "webhook_endpoints",
  "events",
  "changes",
  "sequences",
  "acme_challenges",
  "acme_users",
  "domain_tombstones",
  "network_routes",
  "gateway_configs",
  "certificates",
  "custom_domains",
  "routes",
  "instances",
  "deployment_topology",
  "deployment_steps",
  "deployments",
  "environments",
  "projects",
  "workspaces",
];

export async function down(db: Kysely<any>): Promise<void> {
  await dropForeignKeyIfExists(db, "projects", "projects_live_deployment_fk");
  await dropForeignKeyIfExists(db, "certificates", "certificates_custom_domain_fk");
  for (const table of TABLES_IN_DROP_ORDER) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}

// MySQL 8 has no DROP FOREIGN KEY IF EXISTS; ask information_schema instead.
async function dropForeignKeyIfExists(db: Kysely<any>, table: string, constraint: string): Promise<void> {
  const found = await sql<{ n: number }>`
    select count(*) as n from information_schema.table_constraints
    where constraint_schema = database() and table_name = ${table}
      and constraint_name = ${constraint} and constraint_type = 'FOREIGN KEY'`.execute(db);
  if (Number(found.rows[0]?.n ?? 0) > 0) {
    await sql`alter table ${sql.table(table)} drop foreign key ${sql.id(constraint)}`.execute(db);
  }
}
