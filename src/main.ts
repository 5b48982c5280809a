#!/usr/bin/env node
import "./polyfill.js";

// Entry point of the `switchyard` command: server (serve, migrate, agent, gateway) and pipeline
// client commands. Tracing goes first — its instrumentations patch mysql2 and undici as they
// load — and it may load the SDK asynchronously, so the command tree is imported only after it:
// a static import here would be evaluated beside it, not after it.
await import("./telemetry/startTracing.js");
const { buildProgram } = await import("./cli/program.js");
await buildProgram().parseAsync(process.argv);
