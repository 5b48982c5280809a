import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GatewayConfigSchema, RouteProtocol, TrafficRuleSchema, type GatewayConfig } from "../gen/ctrl/v1/resources_pb.js";
import type { GatewayConfigBody } from "../routing/gatewayConfig.js";

const PROTOCOL: Record<string, RouteProtocol> = { http: RouteProtocol.HTTP, https: RouteProtocol.HTTPS, grpc: RouteProtocol.GRPC, tcp: RouteProtocol.TCP };

/** A stored gateway config body as the API shows it (GetGatewayConfig, WatchGatewayConfigs). */
export function gatewayConfigToProto(body: GatewayConfigBody, version: number, updatedAt: Date): GatewayConfig {
  return create(GatewayConfigSchema, {
    hostname: body.hostname,
    workspaceId: body.workspaceId,
    projectId: body.projectId,
    deploymentId: body.deploymentId,
    port: body.port ?? 0,
    upstreams: body.upstreams,
    certificateId: body.certificateId ?? "",
    version: BigInt(version),
    updateTime: timestampFromDate(updatedAt),
    rules: (body.rules ?? []).map((rule) =>
      create(TrafficRuleSchema, {
        routeId: rule.routeId,
        path: rule.path,
        deploymentId: rule.deploymentId,
        port: rule.port,
        protocol: PROTOCOL[rule.protocol] ?? RouteProtocol.UNSPECIFIED,
        weight: rule.weight,
        stripPrefix: rule.stripPrefix,
        upstreams: rule.upstreams,
      }),
    ),
  });
}
