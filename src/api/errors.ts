import { Code, ConnectError } from "@connectrpc/connect";
import { GateError, type GateCode } from "../domain/gates.js";

const CODE_OF_GATE: Record<GateCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
};

/** InvalidArgument whose message starts with the offending field, e.g. `image.port: …`. */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

/** NotFound for a missing resource — and for another tenant's, which must look the same. */
export function notFound(kind: string, id: string): ConnectError {
  return new ConnectError(`${kind} ${id} not found`, Code.NotFound);
}

/** A rule of src/domain/gates.ts, as the Connect code it stands for. */
export function fromGateError(error: unknown): unknown {
  return error instanceof GateError ? new ConnectError(error.message, CODE_OF_GATE[error.code]) : error;
}
