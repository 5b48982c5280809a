// Loopback networking helpers: shared with the dev stack, they live in src/dev/net.ts.

export { canConnect, httpRequest, LOOPBACK, looksLikePortClash, type HttpRequestOptions, type HttpResponse } from "../../src/dev/net.js";
// The harness's ports are reserved across test processes (ports.ts), not merely free a moment ago.
export { freePort, freeTcpUdpPort } from "./ports.js";
