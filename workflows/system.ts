import * as restate from "@restatedev/restate-sdk";
import { GIT_COMMIT, VERSION } from "../src/version.js";

/**
 * System: a stateless service whose `ping` proves the whole path ingress → restate-server →
 * this endpoint works. Registration checks and operators use it; it touches nothing.
 */
export const systemService = restate.service({
  name: "System",
  handlers: {
    ping: async (_ctx: restate.Context): Promise<{ version: string; commit: string }> => ({ version: VERSION, commit: GIT_COMMIT }),
  },
});
