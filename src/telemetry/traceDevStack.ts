import { VERSION } from "../version.js";
import { startTracing } from "./tracing.js";

// `npm run dev` runs switchyard serve in its own process: imported first by src/dev/dev.ts so
// the instrumentations are in place before mysql2 loads (tracing only when OTEL_* says so).
startTracing("switchyard", VERSION);
