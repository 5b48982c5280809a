import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { challengeFor } from "../../acme/challengeChoice.js";
import { ChallengeType, ValidateDomainResponseSchema, type ValidateDomainRequest } from "../../gen/ctrl/v1/acme_pb.js";
import { ConditionStatus, DiagnosisSchema } from "../../gen/ctrl/v1/resources_pb.js";
import type { ApiDeps } from "../deps.js";
import { domainToProto } from "../domainToProto.js";
import { checkDomainNow } from "../checkDomainNow.js";

const REPORTED = ["ACMEChallengeDelegationReady", "CNAMEConfigured", "OwnershipVerified"];

/**
 * ValidateDomain: checks the domain's DNS now (the same check as VerifyDomain, run by its object)
 * and says whether an order started now should validate, and by which challenge — without
 * ordering anything.
 */
export function validateDomain(deps: ApiDeps) {
  return async (req: ValidateDomainRequest, context: HandlerContext) => {
    const row = await checkDomainNow(deps, context, req.domainId, req.idempotencyKey);
    const domain = domainToProto(row, deps.config);
    const isTrue = (type: string) => domain.conditions.some((c) => c.type === type && c.status === ConditionStatus.TRUE);
    const choice = challengeFor(row, deps.config);
    const diagnoses = [...domain.diagnoses];
    let challengeType = ChallengeType.UNSPECIFIED;
    if ("problem" in choice) {
      diagnoses.push(create(DiagnosisSchema, { problem: choice.problem, fix: "publish the _acme-challenge CNAME of GetDomain's required records, then validate again" }));
    } else if (choice.type === "dns-01") {
      challengeType = ChallengeType.DNS_01;
    } else if (isTrue("CNAMEConfigured")) {
      challengeType = ChallengeType.HTTP_01;
    } else {
      diagnoses.push(create(DiagnosisSchema, { problem: `${row.hostname} does not reach the platform yet, so HTTP-01 cannot validate`, fix: "publish the routing record of GetDomain, or the _acme-challenge CNAME to validate over DNS-01 before the cut-over" }));
    }
    const valid = challengeType !== ChallengeType.UNSPECIFIED && isTrue("OwnershipVerified");
    return create(ValidateDomainResponseSchema, {
      valid,
      challengeType: valid ? challengeType : ChallengeType.UNSPECIFIED,
      conditions: domain.conditions.filter((c) => REPORTED.includes(c.type)),
      diagnoses,
    });
  };
}
