import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, createContextKey, createContextValues, type ConnectRouter, type ConnectRouterOptions, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { createAsyncIterable, readAllBytes } from "@connectrpc/connect/protocol";

// The Connect adapter, with two checks connect-es would otherwise make in the wrong order or
// with the wrong code. connect-es decodes a request body before any interceptor runs, so:
//
// - a request without valid credentials is answered Unauthenticated before its body is looked
//   at: its body is replaced by an empty message, which decodes, and the auth interceptor refuses
//   it — a malformed body never turns an unauthenticated call into InvalidArgument;
// - a binary protobuf body (Connect unary, or the message frames of gRPC, gRPC-web and Connect
//   streaming) is decoded here first: a malformed one, or a truncated frame, is InvalidArgument
//   (connect-es answers Internal for a binary decode error).
//
// Either way the answer is produced by connect-es itself, so it is right for every protocol.

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

const refusalKey = createContextKey<ConnectError | undefined>(undefined, { description: "why the request body was not decoded" });

export interface GatedAdapterOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Throws (ConnectError Unauthenticated) unless the Authorization header is acceptable. */
  authenticate: (authorization: string | null) => void;
  readMaxBytes: number;
}

type Encoding = { framed: boolean; binary: boolean };

function encodingOf(contentType: string | undefined): Encoding | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json") return { framed: false, binary: false };
  if (type === "application/proto") return { framed: false, binary: true };
  if (type === "application/connect+json" || type === "application/grpc+json" || type === "application/grpc-web+json") return { framed: true, binary: false };
  if (type === "application/connect+proto" || type === "application/grpc" || type === "application/grpc+proto" || type === "application/grpc-web" || type === "application/grpc-web+proto") {
    return { framed: true, binary: true };
  }
  return undefined;
}

/** An empty message in the request's encoding: it always decodes. */
function emptyMessage({ framed, binary }: Encoding): Uint8Array {
  const payload = binary ? new Uint8Array(0) : new TextEncoder().encode("{}");
  if (!framed) return payload;
  const frame = new Uint8Array(5 + payload.length);
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, 5);
  return frame;
}

/** Why the binary body does not decode as `schema`, or undefined when it does (or is compressed: connect-es checks those). */
function malformation(body: Uint8Array, framed: boolean, decode: (bytes: Uint8Array) => unknown): string | undefined {
  const attempt = (bytes: Uint8Array) => {
    try {
      decode(bytes);
      return undefined;
    } catch (error) {
      return (error as Error).message.slice(0, 200);
    }
  };
  if (!framed) return attempt(body);
  for (let offset = 0; offset < body.length; ) {
    if (body.length - offset < 5) return "a message frame shorter than its 5-byte header";
    const flags = body[offset]!;
    const length = new DataView(body.buffer, body.byteOffset + offset + 1, 4).getUint32(0);
    if (body.length - offset - 5 < length) return `a message frame promising ${length} bytes holds ${body.length - offset - 5}`;
    const payload = body.subarray(offset + 5, offset + 5 + length);
    offset += 5 + length;
    if ((flags & 0b10) !== 0 || (flags & 0b1) !== 0) continue; // end-of-stream / compressed frames
    const problem = attempt(payload);
    if (problem) return problem;
  }
  return undefined;
}

export function createGatedAdapter(options: GatedAdapterOptions) {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));

  return function gatedRequestHandler(req: NodeRequest, res: NodeResponse): void {
    const handler = handlers.get((req.url ?? "").split("?", 2)[0]!);
    if (!handler) {
      res.writeHead(404);
      res.end();
      return;
    }
    const contextValues = createContextValues();
    const uReq = universalRequestFromNodeRequest(req as IncomingMessage, res as ServerResponse, undefined, contextValues);
    const encoding = encodingOf(req.headers["content-type"]);
    const substitute = () => {
      for (const header of ["content-encoding", "connect-content-encoding", "grpc-encoding", "content-length"]) uReq.header.delete(header);
      uReq.body = createAsyncIterable([emptyMessage(encoding!)]);
    };
    const prepared = (async () => {
      if (req.method === "GET") {
        // Connect GET (side-effect-free RPCs) carries its message in the query: the same rule.
        try {
          options.authenticate(uReq.header.get("authorization"));
        } catch {
          const url = new URL(uReq.url);
          for (const param of ["base64", "compression"]) url.searchParams.delete(param);
          url.searchParams.set("encoding", "json");
          url.searchParams.set("message", "{}");
          uReq.url = url.toString();
        }
        return;
      }
      if (!encoding || req.method !== "POST") return;
      try {
        options.authenticate(uReq.header.get("authorization"));
      } catch {
        // The auth interceptor answers Unauthenticated; the body is never decoded.
        substitute();
        return;
      }
      const compressed = !encoding.framed && (uReq.header.get("content-encoding") ?? "identity") !== "identity";
      if (!encoding.binary || compressed) return;
      let body: Uint8Array;
      try {
        body = await readAllBytes(uReq.body as AsyncIterable<Uint8Array>, options.readMaxBytes, uReq.header.get("content-length"));
      } catch (error) {
        // Over the size limit (ResourceExhausted), or the client went away.
        contextValues.set(refusalKey, ConnectError.from(error));
        substitute();
        return;
      }
      const problem = malformation(body, encoding.framed, (bytes) => fromBinary(handler.method.input, bytes));
      if (problem) {
        contextValues.set(refusalKey, new ConnectError(`request: is not a valid ${handler.method.input.typeName} (${problem})`, Code.InvalidArgument));
        substitute();
      } else {
        uReq.body = createAsyncIterable([body]);
      }
    })();
    void prepared
      .then(() => handler(uReq))
      .then((uRes) => universalResponseToNodeResponse(uRes, res as ServerResponse))
      .catch(() => {
        // The connection went away while the answer was written: nobody is left to tell.
        res.destroy();
      });
  };
}

/** After authentication: a request whose body was refused (malformed, too large) gets that answer. */
export function requestBodyInterceptor(): Interceptor {
  return (next) => async (req) => {
    const refusal = req.contextValues.get(refusalKey);
    if (refusal) throw refusal;
    return next(req);
  };
}
