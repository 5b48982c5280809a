import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ensureAccount } from "../../acme/accounts.js";
import { ACME_TOKEN, keyAuthorizationFor } from "../../acme/challengeAnswers.js";
import {
  AcmeUserSchema,
  CreateAcmeUserResponseSchema,
  AcmeServiceGetCertificateResponseSchema,
  VerifyCertificateResponseSchema,
  type AcmeService,
  type AcmeServiceGetCertificateRequest,
  type CreateAcmeUserRequest,
  type VerifyCertificateRequest,
} from "../../gen/ctrl/v1/acme_pb.js";
import { canonicalHostname } from "../../domain/hostname.js";
import { Vault } from "../../vault/vault.js";
import { certificateToProto } from "../certificateToProto.js";
import { validateDomain } from "./validateDomain.js";
import { principalOf } from "../auth.js";
import { fromGateError, invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { findWorkspace, requireId } from "../tenancy.js";

// AcmeService: ACME accounts, the certificate that covers a hostname, and the HTTP-01 answer for
// gateways. Orders themselves are NetworkService.ProvisionCert's (and automatic on verification).
// ValidateDomain (validateDomain.ts) says which challenge an order would use now.

// ASCII only: the CA and the account row take an addr-spec, not an internationalised address.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;

export function acmeService(deps: ApiDeps): Partial<ServiceImpl<typeof AcmeService>> {
  const { db, config } = deps;
  const vault = config.masterKeys.length > 0 ? new Vault(config.masterKeys) : undefined;

  return {
    validateDomain: validateDomain(deps),

    async createAcmeUser(req: CreateAcmeUserRequest, context: HandlerContext) {
      if (req.workspaceId === "") throw new ConnectError("workspace_id: the platform account needs operator credentials; give a workspace id", Code.Unauthenticated);
      requireId("workspace_id", req.workspaceId);
      if (req.email !== "" && !EMAIL.test(req.email)) throw invalidArgument("email", "is not an e-mail address (ASCII, like ops@example.com)");
      await findWorkspace(db, principalOf(context).tenantId, req.workspaceId);
      if (!vault) throw new ConnectError("ACME accounts need SWITCHYARD_MASTER_KEYS to encrypt their keys; it is not configured", Code.FailedPrecondition);
      const { account, created } = await ensureAccount(db, vault, { scope: req.workspaceId, directoryUrl: config.acmeDirectoryUrl, ...(req.email ? { email: req.email } : {}) }).catch(
        (error: unknown) => Promise.reject(fromGateError(error)),
      );
      return create(CreateAcmeUserResponseSchema, {
        created,
        user: create(AcmeUserSchema, {
          id: account.id,
          workspaceId: account.scope,
          email: account.email ?? "",
          directoryUrl: account.directory_url,
          registrationUri: account.registration_uri ?? "",
          createTime: timestampFromDate(account.created_at),
        }),
      });
    },

    async getCertificate(req: AcmeServiceGetCertificateRequest, context: HandlerContext) {
      const name = canonicalHostname(req.hostname);
      if ("problem" in name) throw invalidArgument("hostname", name.problem);
      const parent = name.ascii.split(".").slice(1).join(".");
      const candidates = parent.includes(".") ? [name.ascii, `*.${parent}`] : [name.ascii];
      const row = await db
        .selectFrom("certificates as c")
        .innerJoin("workspaces as w", "w.id", "c.workspace_id")
        .selectAll("c")
        .where("w.tenant_id", "=", principalOf(context).tenantId)
        .where("c.hostname", "in", candidates)
        .where("c.status", "=", "issued")
        .where("c.not_after", ">", new Date())
        // The exact name before the wildcard of its parent.
        .orderBy((eb) => eb.case().when("c.hostname", "=", name.ascii).then(0).else(1).end())
        .executeTakeFirst();
      if (!row) throw notFound("active certificate for hostname", name.ascii);
      return create(AcmeServiceGetCertificateResponseSchema, { certificate: certificateToProto(row) });
    },

    async verifyCertificate(req: VerifyCertificateRequest, context: HandlerContext) {
      if (req.token === "") throw invalidArgument("token", "is required");
      if (!ACME_TOKEN.test(req.token)) throw invalidArgument("token", "is not an ACME token (base64url)");
      const { tenantId } = principalOf(context);
      // A gateway sees only its tenant's challenges.
      const owned = await db
        .selectFrom("acme_challenges as c")
        .innerJoin("custom_domains as d", "d.id", "c.custom_domain_id")
        .select("c.id")
        .where("c.token", "=", req.token)
        .where("d.tenant_id", "=", tenantId)
        .executeTakeFirst();
      const answer = owned ? await keyAuthorizationFor(db, req.token, req.hostname || undefined) : undefined;
      if (!answer) throw notFound("pending challenge for token", req.token.slice(0, 64));
      return create(VerifyCertificateResponseSchema, { keyAuthorization: answer });
    },
  };
}
