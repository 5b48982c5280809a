import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { GetSpecResponseSchema, type GetSpecRequest, type GetSpecResponse } from "../../gen/ctrl/v1/openapi_pb.js";
import { loadSpec } from "../../openapi/specStore.js";
import { principalOf } from "../auth.js";
import type { ApiDeps } from "../deps.js";
import { findDeployment, requireId } from "../tenancy.js";

export function getSpec({ db }: ApiDeps) {
  return async (req: GetSpecRequest, context: HandlerContext): Promise<GetSpecResponse> => {
    requireId("deployment_id", req.deploymentId);
    const deployment = await findDeployment(db, principalOf(context).tenantId, req.deploymentId);
    const spec = await loadSpec(db, deployment.id);
    if (!spec) throw new ConnectError(`deployment ${deployment.id} has no spec (not scraped yet)`, Code.NotFound);
    if (!spec.document) throw new ConnectError(`deployment ${deployment.id} has no spec: ${spec.detail ?? spec.outcome}`, Code.NotFound);
    return create(GetSpecResponseSchema, {
      deploymentId: deployment.id,
      spec: spec.document.text,
      contentType: spec.document.contentType,
      scrapeTime: timestampFromDate(spec.scrapedAt),
      hash: spec.document.hash,
      problems: spec.document.problems.map((p) => p.message),
      specPath: spec.specPath,
    });
  };
}
