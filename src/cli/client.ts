import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DeployService } from "../gen/ctrl/v1/deploy_pb.js";
import { UsageError } from "./output.js";

/** Where `switchyard serve` and `npm run dev` listen by default (SWITCHYARD_PORT 7080). */
export const DEFAULT_API_URL = "http://127.0.0.1:7080";

export interface ConnectionOptions {
  url?: string;
}

/** The DeployService client of a pipeline. */
export function deployClient(options: ConnectionOptions): Client<typeof DeployService> {
  return apiClient(DeployService, options);
}

/**
 * A client of one Switchyard service: SWITCHYARD_URL (or --url) and SWITCHYARD_TOKEN from the
 * environment — a token never goes on a command line, where `ps` and CI logs would show it.
 */
export function apiClient<S extends DescService>(service: S, options: ConnectionOptions): Client<S> {
  const token = process.env.SWITCHYARD_TOKEN;
  if (!token) throw new UsageError("SWITCHYARD_TOKEN is not set: export the API token of your tenant");
  const baseUrl = options.url ?? process.env.SWITCHYARD_URL ?? DEFAULT_API_URL;
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`SWITCHYARD_URL / --url: "${baseUrl}" is not a URL`);
  }
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(service, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] }));
}
