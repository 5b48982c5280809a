import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { isConnectionError } from "../db/errors.js";
import type { Logger } from "../log.js";
import { rpcDuration, rpcRequests } from "../telemetry/metrics.js";
import { agentKey, principalKey } from "./auth.js";
import { databaseUnavailable } from "./errors.js";

export const requestIdKey = createContextKey<string>("", { description: "request id" });

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Outermost interceptor but the span's: gives every RPC a request id (the caller's `x-request-id`
 * when it is sane), logs one line per RPC and counts it (switchyard_rpc_requests_total and
 * switchyard_rpc_duration_seconds), and turns any error that is not a ConnectError into a public one
 * — `Unavailable` when the database could not be reached, else a bare `Internal` — so SQL, stack
 * traces and file paths never reach a caller. A streaming RPC's errors are mapped the same way
 * when they happen mid-stream.
 *
 * The line: request id, tenant (or the agent's region), service/method, code and duration; a
 * client error (4xx: bad input, not found, refused) at info with its message only, a server
 * error at error with the stack of what really failed — the caller sees only the request id.
 */
export function requestLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const offered = req.header.get("x-request-id");
    const requestId = offered && REQUEST_ID.test(offered) ? offered : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const started = performance.now();
    const service = req.service.typeName;
    const method = req.method.name;
    const caller = () => {
      const principal = req.contextValues.get(principalKey);
      if (principal) return { tenant: principal.tenantId };
      const agent = req.contextValues.get(agentKey);
      return agent ? { agentRegion: agent.region } : {};
    };
    const record = (code: string) => {
      const ms = elapsed(started);
      rpcRequests.inc({ service, method, code });
      rpcDuration.observe({ service, method, code }, ms / 1000);
      return ms;
    };
    const publicError = (error: unknown) => {
      const connectError = toPublicError(error, requestId);
      connectError.metadata.set("x-request-id", requestId);
      const code = codeName(connectError.code);
      const ms = record(code);
      const fields = { requestId, ...caller(), rpc: `${service}/${method}`, code, ms };
      if (isServerFault(connectError.code)) logger.error({ ...fields, err: error }, "rpc");
      else logger.info({ ...fields, reason: connectError.rawMessage }, "rpc");
      return connectError;
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      const ms = record("ok");
      logger.info({ requestId, ...caller(), rpc: `${service}/${method}`, code: "ok", ms }, "rpc");
      return res.stream ? { ...res, message: mappedErrors(res.message, publicError) } : res;
    } catch (error) {
      throw publicError(error);
    }
  };
}

/** Connect's name of a code as it appears on the wire: invalid_argument, not_found, … */
function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/** Server faults: logged with their stack; everything else is the caller's business. */
function isServerFault(code: Code): boolean {
  return code === Code.Internal || code === Code.Unknown || code === Code.DataLoss || code === Code.Unavailable;
}

async function* mappedErrors<T>(messages: AsyncIterable<T>, publicError: (error: unknown) => ConnectError): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw publicError(error);
  }
}

function elapsed(started: number) {
  return Math.round((performance.now() - started) * 100) / 100;
}

/**
 * ConnectErrors raised on purpose pass through; a lost or refused database connection is
 * Unavailable (a pipeline retries it); everything else is an opaque internal error.
 */
export function toPublicError(error: unknown, requestId: string): ConnectError {
  if (error instanceof ConnectError && error.code !== Code.Unknown) return error;
  if (isConnectionError(error) || (error instanceof ConnectError && isConnectionError(error.cause))) return databaseUnavailable();
  return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
}
