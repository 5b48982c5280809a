import { Code } from "@connectrpc/connect";
import type { GateCode } from "./gates.js";

/**
 * The one table from a rule violation to what carries it: the HTTP status of the TerminalError a
 * workflow ends with (restate-server hands it to the ingress client) and the Connect code the API
 * answers — directly for a rule the API checks itself, or mapped back from the status.
 */
export const RULE_CODES: Record<GateCode, { status: number; code: Code }> = {
  invalid_argument: { status: 400, code: Code.InvalidArgument },
  permission_denied: { status: 403, code: Code.PermissionDenied },
  not_found: { status: 404, code: Code.NotFound },
  already_exists: { status: 409, code: Code.AlreadyExists },
  failed_precondition: { status: 412, code: Code.FailedPrecondition },
  resource_exhausted: { status: 429, code: Code.ResourceExhausted },
};

const CODE_OF_STATUS = new Map(Object.values(RULE_CODES).map(({ status, code }) => [status, code]));

/** The Connect code of a TerminalError's status, or undefined for a status no rule uses. */
export function codeOfRuleStatus(status: number): Code | undefined {
  return CODE_OF_STATUS.get(status);
}

/** The status a workflow gives a TerminalError for a rule of this kind. */
export function statusOfRule(code: GateCode): number {
  return RULE_CODES[code].status;
}
