import "../../src/polyfill.js";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as restate from "@restatedev/restate-sdk";
import { registerEndpoint } from "../../src/restate/admin.js";

/**
 * Serves bench-only Restate services from this process on a loopback h2c port and registers
 * them, so a baseline runs through the same restate-server as the system under test.
 */
export async function serveBenchServices(adminUrl: string, services: Parameters<typeof restate.createEndpointHandler>[0]["services"]): Promise<{ close(): void }> {
  const server = http2.createServer(restate.createEndpointHandler({ services }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await registerEndpoint({ adminUrl, endpointUrl: `http://127.0.0.1:${port}` });
  return { close: () => server.close() };
}
