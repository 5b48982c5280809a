import { create } from "@bufbuild/protobuf";
import { BreakingChangesPolicy, SpecChangeLevel, SpecChangeSchema, type SpecChange } from "../../gen/ctrl/v1/openapi_pb.js";
import type { BreakingChangesPolicy as Policy } from "../../domain/gates.js";
import type { SpecChangeRecord } from "../../openapi/specDiffer.js";

const LEVEL: Record<SpecChangeRecord["level"], SpecChangeLevel> = {
  breaking: SpecChangeLevel.BREAKING,
  warning: SpecChangeLevel.WARNING,
  info: SpecChangeLevel.INFO,
};

export function specChangeToProto(change: SpecChangeRecord): SpecChange {
  return create(SpecChangeSchema, { ...change, level: LEVEL[change.level] });
}

export const POLICY_TO_PROTO: Record<Policy, BreakingChangesPolicy> = {
  allow: BreakingChangesPolicy.ALLOW,
  warn: BreakingChangesPolicy.WARN,
  block: BreakingChangesPolicy.BLOCK,
};

export const POLICY_FROM_PROTO: Partial<Record<BreakingChangesPolicy, Policy>> = {
  [BreakingChangesPolicy.ALLOW]: "allow",
  [BreakingChangesPolicy.WARN]: "warn",
  [BreakingChangesPolicy.BLOCK]: "block",
};
