import { randomUUID } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../log.js";

export const requestIdKey = createContextKey<string>("", { description: "request id" });

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Outermost interceptor: gives every RPC a request id (the caller's `x-request-id` when it is
 * sane), logs one line per RPC, and turns any error that is not a ConnectError into a bare
 * `Internal` so SQL, stack traces and file paths never reach a caller.
 */
export function requestLogInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const offered = req.header.get("x-request-id");
    const requestId = offered && REQUEST_ID.test(offered) ? offered : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const started = performance.now();
    const log = logger.child({ requestId, rpc: `${req.service.typeName}/${req.method.name}` });
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      log.info({ code: "ok", ms: elapsed(started) }, "rpc");
      return res;
    } catch (error) {
      const connectError = toPublicError(error, requestId);
      connectError.metadata.set("x-request-id", requestId);
      const level = connectError.code === Code.Internal || connectError.code === Code.Unknown ? "error" : "info";
      log[level]({ code: Code[connectError.code], ms: elapsed(started), err: error }, "rpc");
      throw connectError;
    }
  };
}

function elapsed(started: number) {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** ConnectErrors raised on purpose pass through; everything else is an opaque internal error. */
export function toPublicError(error: unknown, requestId: string): ConnectError {
  if (error instanceof ConnectError && error.code !== Code.Unknown) return error;
  return new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
}
