import os from "node:os";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { CtrlService } from "../gen/ctrl/v1/ctrl_pb.js";
import { GIT_COMMIT, STARTED_AT, VERSION } from "../version.js";

/** CtrlService: liveness and build information of this replica. */
export function ctrlService(): Partial<ServiceImpl<typeof CtrlService>> {
  return {
    liveness: () => ({ status: "ok", instanceId: os.hostname() }),
    version: () => ({ version: VERSION, gitCommit: GIT_COMMIT, startTime: timestampFromDate(STARTED_AT) }),
  };
}
