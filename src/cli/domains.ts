import { createHash } from "node:crypto";
import { Command } from "commander";
import {
  AddDomainResponseSchema,
  DnsRecordPurpose,
  DnsRecordType,
  DomainSchema,
  DomainStatus,
  ListDomainsResponseSchema,
  NetworkService,
  RemoveDomainResponseSchema,
  type Domain,
} from "../gen/ctrl/v1/network_pb.js";
import { ConditionStatus } from "../gen/ctrl/v1/resources_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { apiClient } from "./client.js";
import { EXIT, printJson, runCommand, table, UsageError } from "./output.js";

interface Common {
  json?: boolean;
  url?: string;
}

const lower = (name: string | undefined) => (name ?? "").toLowerCase();

export function domainsCommand(): Command {
  const command = new Command("domains").description("custom domains: claim a hostname and see the DNS records to create");
  command
    .command("add")
    .description("claim a hostname for a project environment; prints the DNS records to create")
    .argument("<hostname>", 'e.g. api.example.com, bücher.example, or "*.example.com" with --wildcard')
    .requiredOption("--workspace <id>", "workspace id")
    .requiredOption("--project <id>", "project id")
    .option("--env <slug>", "environment whose deployment serves it", "production")
    .option("--wildcard", "claim every direct subdomain (needs the _acme-challenge delegation)")
    .option("--no-tls", "serve over HTTP only (no certificate)")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((hostname: string, options: Common & { workspace: string; project: string; env: string; wildcard?: boolean; tls: boolean }) =>
      runCommand(async () => {
        const response = await apiClient(NetworkService, options).addDomain({
          workspaceId: options.workspace,
          projectId: options.project,
          environment: options.env,
          hostname,
          wildcard: options.wildcard ?? false,
          tls: options.tls,
          // A retried command finds the claim it made instead of failing with AlreadyExists. A
          // digest of the inputs: keys are printable ASCII, and hostnames may be IDNs.
          idempotencyKey: `cli-add-${createHash("sha256").update(JSON.stringify([options.project, options.env, hostname.toLowerCase(), options.tls])).digest("hex").slice(0, 32)}`,
        });
        if (options.json) return printJson(AddDomainResponseSchema, response);
        process.stdout.write(describe(response.domain!));
      }),
    );
  command
    .command("get")
    .description("one domain with its DNS records and conditions")
    .argument("<domain>", "domain id")
    .option("--json", "print the domain as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((domainId: string, options: Common) =>
      runCommand(async () => {
        const { domain } = await apiClient(NetworkService, options).getDomain({ domainId });
        if (options.json) return printJson(DomainSchema, domain!);
        process.stdout.write(describe(domain!));
      }),
    );
  command
    .command("verify")
    .description("check the DNS records now; prints the conditions and what to fix")
    .argument("<domain>", "domain id")
    .option("--json", "print the domain as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((domainId: string, options: Common) =>
      runCommand(async () => {
        const { domain } = await apiClient(NetworkService, options).verifyDomain({ domainId });
        if (options.json) return printJson(DomainSchema, domain!);
        process.stdout.write(describe(domain!));
        // A pipeline can wait for ownership with `until switchyard domains verify …; do sleep 30; done`.
        return domain!.verified ? EXIT.ok : EXIT.failed;
      }),
    );
  command
    .command("list")
    .description("a workspace's domains, by hostname")
    .requiredOption("--workspace <id>", "workspace id")
    .option("--project <id>", "only this project")
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((options: Common & { workspace: string; project?: string; limit: string }) =>
      runCommand(async () => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit: "${options.limit}" must be 1-500`);
        const response = await apiClient(NetworkService, options).listDomains({ workspaceId: options.workspace, projectId: options.project ?? "", pageSize: limit });
        if (options.json) return printJson(ListDomainsResponseSchema, response);
        const rows = response.domains.map((d) => [d.id, d.unicodeHostname, lower(DomainStatus[d.status]), d.projectId, d.tls ? "tls" : "http"]);
        process.stdout.write(table(["ID", "HOSTNAME", "STATUS", "PROJECT", "TLS"], rows));
      }),
    );
  command
    .command("remove")
    .description("release a domain (a verified hostname stays reserved for you for a while)")
    .argument("<domain>", "domain id")
    .option("--json", "print the response as JSON")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((domainId: string, options: Common) =>
      runCommand(async () => {
        const response = await apiClient(NetworkService, options).removeDomain({ domainId });
        if (options.json) return printJson(RemoveDomainResponseSchema, response);
        const until = response.tombstoneExpireTime ? `; reserved for you until ${timestampDate(response.tombstoneExpireTime).toISOString()}` : "";
        process.stdout.write(`${response.domain!.hostname} removed${until}\n`);
      }),
    );
  return command;
}

function describe(d: Domain): string {
  const name = d.unicodeHostname !== d.hostname ? `${d.unicodeHostname} (${d.hostname})` : d.hostname;
  const records = d.requiredRecords.map((r) => [
    DnsRecordType[r.type],
    r.name,
    r.value,
    `${lower(DnsRecordPurpose[r.purpose]).replace("_", " ")}${r.required ? "" : " (recommended)"}`,
  ]);
  const conditions = d.conditions.map((c) => [c.type, lower(ConditionStatus[c.status]), c.reason, c.message]);
  return [
    `${d.id}  ${name}  ${lower(DomainStatus[d.status])}`,
    `  project ${d.projectId}, environment ${d.environmentId}, ${d.tls ? "TLS" : "HTTP only"}${d.wildcard ? ", wildcard" : ""}`,
    "",
    "Create these DNS records:",
    table(["TYPE", "NAME", "VALUE", "PURPOSE"], records).replace(/^/gm, "  ").trimEnd(),
    "",
    "Conditions:",
    table(["TYPE", "STATUS", "REASON", "MESSAGE"], conditions).replace(/^/gm, "  ").trimEnd(),
    ...(d.diagnoses.length > 0 ? ["", "To fix:", ...d.diagnoses.map((x) => `  - ${x.problem}\n    → ${x.fix}`)] : []),
    "",
  ].join("\n");
}
