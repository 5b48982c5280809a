import "../../src/polyfill.js";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as restate from "@restatedev/restate-sdk";
import { registerEndpoint } from "../../src/restate/admin.js";
import { restateLogTransport } from "../../src/restate/logTransport.js";
import { createLogger } from "../../src/log.js";

/**
 * Serves bench-only Restate services from this process on a loopback h2c port and registers
 * them, so a baseline runs through the same restate-server as the system under test. Its SDK
 * logs go through the same transport as switchyard's, at warn like the system under test's in
 * the benches: the SDK's default console logger writes a line per invocation, a cost the
 * baseline must not carry (RESTATE_LOGGING is read when the SDK loads, before a bench's body).
 */
export async function serveBenchServices(adminUrl: string, services: Parameters<typeof restate.createEndpointHandler>[0]["services"]): Promise<{ close(): void }> {
  const server = http2.createServer(restate.createEndpointHandler({ services, logger: restateLogTransport(createLogger("warn", "bench")) }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await registerEndpoint({ adminUrl, endpointUrl: `http://127.0.0.1:${port}` });
  return { close: () => server.close() };
}
