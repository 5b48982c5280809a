#!/usr/bin/env node
import "./polyfill.js";
import { buildProgram } from "./cli/program.js";

// Entry point of the `switchyard` command: server (serve, migrate) and pipeline client commands.
await buildProgram().parseAsync(process.argv);
