// How Switchyard runs a private single-node restate-server, shared by the dev stack and the
// test harness: every listener on 127.0.0.1 (ingress, admin + UI, node fabric), TCP only,
// auto-provisioned, a small RocksDB budget, no telemetry.

import path from "node:path";
import { httpRequest, LOOPBACK } from "./net.js";

export interface RestateLayout {
  /** Holds restate-data/ (journal, state, metadata). */
  baseDir: string;
  ingressPort: number;
  adminPort: number;
  nodePort: number;
  nodeName: string;
  partitions: number;
}

/** process.env without RESTATE_* (a developer's own settings must not leak into the server). */
function envWithoutRestate(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("RESTATE_")) env[key] = value;
  }
  return env;
}

/** The complete environment of restate-server for this layout. */
export function restateServerEnv(layout: RestateLayout): NodeJS.ProcessEnv {
  const ingressUrl = `http://${LOOPBACK}:${layout.ingressPort}`;
  const adminUrl = `http://${LOOPBACK}:${layout.adminPort}`;
  return {
    ...envWithoutRestate(),
    HOME: layout.baseDir,
    DO_NOT_TRACK: "1",
    SCARF_ANALYTICS: "false",
    RESTATE_LISTEN_MODE: "tcp",
    RESTATE_BASE_DIR: path.join(layout.baseDir, "restate-data"),
    RESTATE_NODE_NAME: layout.nodeName,
    RESTATE_CLUSTER_NAME: layout.nodeName,
    RESTATE_AUTO_PROVISION: "true",
    RESTATE_BIND_IP: LOOPBACK,
    RESTATE_ADVERTISED_HOST: LOOPBACK,
    RESTATE_BIND_ADDRESS: `${LOOPBACK}:${layout.nodePort}`,
    RESTATE_ADVERTISED_ADDRESS: `http://${LOOPBACK}:${layout.nodePort}/`,
    RESTATE_ADMIN__BIND_ADDRESS: `${LOOPBACK}:${layout.adminPort}`,
    RESTATE_ADMIN__ADVERTISED_ADMIN_ENDPOINT: adminUrl,
    RESTATE_INGRESS__BIND_ADDRESS: `${LOOPBACK}:${layout.ingressPort}`,
    RESTATE_INGRESS__ADVERTISED_INGRESS_ENDPOINT: ingressUrl,
    RESTATE_DEFAULT_NUM_PARTITIONS: String(layout.partitions),
    RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE: "256MB",
    RESTATE_DISABLE_TELEMETRY: "true",
    RESTATE_LOG_DISABLE_ANSI_CODES: "true",
    RESTATE_LOG_FORMAT: "compact",
    RESTATE_SHUTDOWN_TIMEOUT: "5s",
  };
}

/** True when GET url answers 200 within a second. */
export async function healthy(url: string): Promise<boolean> {
  const res = await httpRequest(url, { timeoutMs: 1000 });
  return res.status === 200;
}
