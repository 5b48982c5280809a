import type { ServiceImpl } from "@connectrpc/connect";
import type { OpenApiService } from "../../gen/ctrl/v1/openapi_pb.js";
import type { ApiDeps } from "../deps.js";
import { getDiff } from "./getDiff.js";
import { getSpec } from "./getSpec.js";
import { getApiSettings, updateApiSettings } from "./apiSettings.js";

/** OpenApiService: scraped specs, their diffs, and the project settings that govern both. */
export function openApiService(deps: ApiDeps): ServiceImpl<typeof OpenApiService> {
  return {
    getSpec: getSpec(deps),
    getDiff: getDiff(deps),
    getApiSettings: getApiSettings(deps),
    updateApiSettings: updateApiSettings(deps),
  };
}
