import { Code, ConnectError } from "@connectrpc/connect";
import { GateError } from "../domain/gates.js";
import { RULE_CODES } from "../domain/ruleCodes.js";

/** InvalidArgument whose message starts with the offending field, e.g. `image.port: …`. */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

/** NotFound for a missing resource — and for another tenant's, which must look the same. */
export function notFound(kind: string, id: string): ConnectError {
  return new ConnectError(`${kind} ${id} not found`, Code.NotFound);
}

/** The database is restarting or unreachable: retrying later (with the same idempotency key) is safe. */
export function databaseUnavailable(): ConnectError {
  return new ConnectError("the database is unavailable; retry with the same idempotency key", Code.Unavailable);
}

/** A rule of src/domain/gates.ts, as the Connect code it stands for. */
export function fromGateError(error: unknown): unknown {
  return error instanceof GateError ? new ConnectError(error.message, RULE_CODES[error.code].code) : error;
}
