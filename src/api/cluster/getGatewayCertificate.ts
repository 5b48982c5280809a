import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { createPrivateKey } from "node:crypto";
import { GetGatewayCertificateResponseSchema, type GetGatewayCertificateRequest, type GetGatewayCertificateResponse } from "../../gen/ctrl/v1/cluster_pb.js";
import { canonicalHostname } from "../../domain/hostname.js";
import { recordName } from "../../vault/rotate.js";
import type { Vault } from "../../vault/vault.js";
import { invalidArgument, notFound } from "../errors.js";
import type { ApiDeps } from "../deps.js";
import { agentRegion } from "./region.js";

/**
 * A gateway asks, at TLS handshake time, for the certificate of a hostname it serves: the
 * certificate its gateway config names, issued. The private key is opened by the vault for this
 * answer only (the buffer is zeroed once it is encoded) and never logged. A hostname without a
 * config, or whose config has no issued certificate, is NotFound — the gateway then declines the
 * handshake's name.
 */
export function getGatewayCertificate(deps: ApiDeps, vault: Vault | undefined) {
  return async (req: GetGatewayCertificateRequest, context: HandlerContext): Promise<GetGatewayCertificateResponse> => {
    agentRegion(deps, context, req.region);
    if (req.hostname === "") throw invalidArgument("hostname", "is required");
    const name = canonicalHostname(req.hostname);
    if ("problem" in name) throw invalidArgument("hostname", name.problem);
    const row = await deps.db
      .selectFrom("gateway_configs as g")
      .innerJoin("certificates as c", "c.id", "g.certificate_id")
      .select(["c.id", "c.pem_chain", "c.not_after", "c.key_ciphertext", "c.key_nonce", "c.key_tag", "c.wrapped_data_key", "c.master_key_id"])
      .where("g.hostname", "=", name.ascii)
      .where("c.status", "=", "issued")
      .executeTakeFirst();
    if (!row || !row.pem_chain || !row.key_ciphertext || !row.key_nonce || !row.key_tag || !row.wrapped_data_key || !row.master_key_id) {
      throw notFound("certificate for hostname", name.ascii);
    }
    if (!vault) throw new ConnectError("certificates need SWITCHYARD_MASTER_KEYS to open their keys; it is not configured", Code.FailedPrecondition);
    const key = vault.open(
      { key_ciphertext: row.key_ciphertext, key_nonce: row.key_nonce, key_tag: row.key_tag, wrapped_data_key: row.wrapped_data_key, master_key_id: row.master_key_id },
      recordName("certificates", row.id),
    );
    try {
      const pem = createPrivateKey(key).export({ format: "pem", type: "pkcs8" }).toString();
      return create(GetGatewayCertificateResponseSchema, {
        certificateId: row.id,
        pemChain: row.pem_chain,
        privateKeyPem: pem,
        ...(row.not_after ? { notAfter: timestampFromDate(row.not_after) } : {}),
      });
    } finally {
      key.fill(0);
    }
  };
}
