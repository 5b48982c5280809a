import { GateError } from "./gates.js";

// The rules of NetworkService routes, as pure logic shared by the API (which checks
// the request's shape) and the Project object (which checks them again against the project's
// state, under its lock).

export type RouteProtocolName = "http" | "https" | "grpc" | "tcp";

export interface RouteFields {
  path: string;
  port: number;
  protocol: RouteProtocolName;
  weight: number;
  stripPrefix: boolean;
}

/** Checks the fields of a route; throws a GateError naming the field. */
export function checkRouteFields(fields: RouteFields): void {
  const { path } = fields;
  if (!path.startsWith("/")) throw new GateError("invalid_argument", `path: "${path.slice(0, 64)}" must start with "/"`);
  if (path.length > 512) throw new GateError("invalid_argument", "path: is longer than 512 characters");
  if (!/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/.test(path)) throw new GateError("invalid_argument", `path: "${path.slice(0, 64)}" has characters a URL path cannot carry`);
  if (path.includes("//") || /(^|\/)\.\.?(\/|$)/.test(path)) throw new GateError("invalid_argument", `path: "${path.slice(0, 64)}" is not a normalised path (no "//", "." or "..")`);
  if (!Number.isInteger(fields.port) || fields.port < 1 || fields.port > 65535) throw new GateError("invalid_argument", `port: ${fields.port} is not a TCP port (1-65535)`);
  if (!Number.isInteger(fields.weight) || fields.weight < 0 || fields.weight > 100) throw new GateError("invalid_argument", `weight: ${fields.weight} is not between 0 and 100`);
  if (fields.protocol === "tcp" && path !== "/") throw new GateError("invalid_argument", 'path: a tcp route carries no paths; use "/"');
}

/**
 * The weights of one hostname's routes on one path may sum to at most 100 (the rest stays on the
 * hostname's own deployment). `others` are the weights already there, without the route changing.
 */
export function checkWeights(hostname: string, path: string, others: readonly number[], weight: number): void {
  const total = others.reduce((sum, w) => sum + w, 0) + weight;
  if (total > 100) {
    throw new GateError(
      "failed_precondition",
      `weight: the routes of ${hostname} on ${path} would carry ${total}% of its traffic; the weights of one hostname and path sum to at most 100 (${100 - (total - weight)}% is left)`,
    );
  }
}
