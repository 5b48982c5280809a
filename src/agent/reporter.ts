// Sends ReportDeploymentStatus for each deployment whenever what the agent observes changes:
// deduplicated (an unchanged report is not sent again), retried with backoff until it is
// delivered, and always the newest — a report superseded while it was being retried is dropped.
// Answers that no retry can change (NotFound: the deployment is gone; InvalidArgument) end it.

import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { abortableSleep } from "../api/abortableSleep.js";
import { type ClusterService, InstanceStatus, RegionDeploymentStatus } from "../gen/ctrl/v1/cluster_pb.js";
import { Backoff } from "../cluster/client/backoff.js";
import type { RegionReport } from "./regionReport.js";
import { reportsSent } from "./metrics.js";

const STATUS = { pending: RegionDeploymentStatus.PENDING, running: RegionDeploymentStatus.RUNNING, failed: RegionDeploymentStatus.FAILED };
const INSTANCE_STATUS = { pending: InstanceStatus.PENDING, running: InstanceStatus.RUNNING, failed: InstanceStatus.FAILED, stopped: InstanceStatus.STOPPED };
const CALL_TIMEOUT_MS = 10_000;

interface Entry {
  sentKey?: string;
  wanted?: { key: string; report: RegionReport };
  sending: boolean;
  backoff: Backoff;
}

export class Reporter {
  private readonly entries = new Map<string, Entry>();
  private readonly closing = new AbortController();

  constructor(
    private readonly client: Client<typeof ClusterService>,
    private readonly region: string,
    private readonly log: Logger,
  ) {}

  /** Queues `report` unless it is what was last sent (or is already queued). */
  report(deploymentId: string, report: RegionReport): void {
    const key = JSON.stringify(report, (_, value: unknown) => (typeof value === "bigint" ? String(value) : value));
    let entry = this.entries.get(deploymentId);
    if (!entry) {
      entry = { sending: false, backoff: new Backoff({ initialMs: 250, maxMs: 30_000 }) };
      this.entries.set(deploymentId, entry);
    }
    if (entry.sentKey === key || entry.wanted?.key === key) return;
    entry.wanted = { key, report };
    if (!entry.sending) void this.pump(deploymentId, entry);
  }

  /** Reports not delivered yet. */
  get pending(): number {
    return [...this.entries.values()].filter((e) => e.wanted).length;
  }

  /** Waits (at most `timeoutMs`) until every queued report is delivered. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.pending === 0;
  }

  close(): void {
    this.closing.abort();
  }

  private async pump(deploymentId: string, entry: Entry): Promise<void> {
    entry.sending = true;
    try {
      while (entry.wanted && !this.closing.signal.aborted) {
        const { key, report } = entry.wanted;
        try {
          await this.client.reportDeploymentStatus(
            {
              deploymentId,
              region: this.region,
              status: STATUS[report.status],
              message: report.message,
              observedVersion: report.observedVersion,
              instances: report.instances.map((i) => ({ instanceId: i.instanceId, status: INSTANCE_STATUS[i.status], address: i.address, message: i.message })),
              idempotencyKey: createHash("sha256").update(`${deploymentId}\n${key}`).digest("hex").slice(0, 32),
            },
            { timeoutMs: CALL_TIMEOUT_MS, signal: this.closing.signal },
          );
          this.delivered(entry, key);
          reportsSent.inc({ outcome: "delivered" });
          this.log.debug({ deploymentId, status: report.status }, "reported deployment status");
        } catch (error) {
          const connectError = ConnectError.from(error);
          if (connectError.code === Code.NotFound || connectError.code === Code.InvalidArgument) {
            this.log.warn({ deploymentId, code: Code[connectError.code], error: connectError.rawMessage }, "status report refused; not retried");
            reportsSent.inc({ outcome: "refused" });
            this.delivered(entry, key);
            continue;
          }
          if (this.closing.signal.aborted) return;
          reportsSent.inc({ outcome: "failed" });
          const delay = entry.backoff.next();
          this.log.warn({ deploymentId, code: Code[connectError.code], error: connectError.rawMessage, retryInMs: delay }, "status report failed; retrying");
          await abortableSleep(delay, this.closing.signal);
        }
      }
    } finally {
      entry.sending = false;
    }
  }

  private delivered(entry: Entry, key: string) {
    entry.sentKey = key;
    entry.backoff.reset();
    if (entry.wanted?.key === key) entry.wanted = undefined;
  }
}
