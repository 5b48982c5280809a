// Loopback networking helpers: shared with the dev stack, they live in src/dev/net.ts.

export { canConnect, freePort, freeTcpUdpPort, httpRequest, LOOPBACK, looksLikePortClash, type HttpRequestOptions, type HttpResponse } from "../../src/dev/net.js";
