// Promote latency with telemetry on vs off, in one run on one stack. Three switchyard serves
// share the stack: the bench's (tracing off, no metrics endpoint); one with tracing configured
// but nothing sampled (OTEL_TRACES_SAMPLER=always_off: the context manager and the
// instrumentations run, no span is recorded or exported — what carrying the trace context costs
// on its own); and one with tracing on (OTLP/HTTP to a receiver in this process that only counts
// what it gets; every sampled span exported). The last two have their /metrics scraped every
// second. Which one runs the workflows is whichever restate-server's admin API registered last,
// so the blocks rotate — off, context, on, off … — each re-registering its own endpoint first
// and sending its promotes to its own API: a drift of the shared 2-core machine then lands on
// every side alike. Ratios compare the medians of all blocks of each side.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DeployService } from "../../src/gen/ctrl/v1/deploy_pb.js";
import { registerEndpoint } from "../../src/restate/admin.js";
import { freePort, LOOPBACK, startSwitchyard, type Switchyard } from "../../test/harness/index.js";
import type { App } from "../../test/support/app.js";
import { startOtlpReceiver } from "../../test/support/otlpReceiver.js";
import { percentile, round, timeIt } from "./stats.js";

export interface TelemetryOverhead {
  telemetry_off_p50_ms: number;
  telemetry_context_only_p50_ms: number;
  telemetry_on_p50_ms: number;
  telemetry_ratio_p50: number;
  telemetry_context_only_ratio_p50: number;
  telemetry_off_p99_ms: number;
  telemetry_on_p99_ms: number;
  telemetry_blocks: number;
  telemetry_export_requests: number;
  telemetry_export_kib: number;
}

const BLOCKS = 6;

interface Side {
  endpoint: string;
  promote: (count: number, skip: number) => Promise<number[]>;
  samples: number[];
}

export async function telemetryOverhead(app: App, pair: { a: string; b: string }, iterations: number, warmup: number): Promise<TelemetryOverhead> {
  // One alternation for every side: each promote targets the deployment that is not live.
  let n = 0;
  const promoter = (baseUrl: string) => {
    const bearer: Interceptor = (next) => (req) => (req.header.set("authorization", `Bearer ${app.tokens.acme}`), next(req));
    const client = createClient(DeployService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer] }));
    return (count: number, skip: number) => timeIt(count, skip, () => client.promote({ deploymentId: n++ % 2 === 0 ? pair.a : pair.b }));
  };

  const receiver = await startOtlpReceiver({ keep: false });
  const started: Switchyard[] = [];
  const metricsUrls: string[] = [];
  const telemetrySide = async (name: string, tracingEnv: Record<string, string>): Promise<Side> => {
    const endpointPort = await freePort();
    const metricsListen = `${LOOPBACK}:${await freePort()}`;
    const serve = await startSwitchyard(
      { ...app.env, SWITCHYARD_PORT: String(await freePort()), SWITCHYARD_ENDPOINT_PORT: String(endpointPort), SWITCHYARD_METRICS_LISTEN: metricsListen, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...tracingEnv },
      { name },
    );
    started.push(serve);
    metricsUrls.push(`http://${metricsListen}/metrics`);
    return { endpoint: `http://${LOOPBACK}:${endpointPort}`, promote: promoter(serve.url), samples: [] };
  };
  let scraping = true;
  let scraper: Promise<void> = Promise.resolve();
  const off: Side = { endpoint: `http://${LOOPBACK}:${app.env.SWITCHYARD_ENDPOINT_PORT}`, promote: promoter(app.switchyard.url), samples: [] };
  try {
    const contextOnly = await telemetrySide("switchyard-context-only", { OTEL_TRACES_SAMPLER: "always_off" });
    const on = await telemetrySide("switchyard-traced", {});
    scraper = (async () => {
      while (scraping) {
        await Promise.all(metricsUrls.map((url) => fetch(url).then((r) => r.text()).catch(() => undefined)));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    const sides = [off, contextOnly, on];
    const perBlock = Math.ceil(iterations / BLOCKS);
    for (let block = 0; block < BLOCKS * sides.length; block++) {
      const side = sides[block % sides.length]!;
      await registerEndpoint({ adminUrl: app.stack.restate.adminUrl, endpointUrl: side.endpoint });
      // The first block of each side warms it up fully; later ones only after the switch.
      side.samples.push(...(await side.promote(perBlock, block < sides.length ? warmup : 5)));
    }
    const p50 = (side: Side) => percentile(side.samples, 50);
    return {
      telemetry_off_p50_ms: round(p50(off)),
      telemetry_context_only_p50_ms: round(p50(contextOnly)),
      telemetry_on_p50_ms: round(p50(on)),
      telemetry_ratio_p50: round(p50(on) / p50(off)),
      telemetry_context_only_ratio_p50: round(p50(contextOnly) / p50(off)),
      telemetry_off_p99_ms: round(percentile(off.samples, 99)),
      telemetry_on_p99_ms: round(percentile(on.samples, 99)),
      telemetry_blocks: BLOCKS,
      telemetry_export_requests: receiver.received.requests,
      telemetry_export_kib: round(receiver.received.bytes / 1024),
    };
  } finally {
    scraping = false;
    await scraper;
    // The bench's own endpoint runs the workflows again.
    await registerEndpoint({ adminUrl: app.stack.restate.adminUrl, endpointUrl: off.endpoint });
    await Promise.allSettled(started.map((s) => s.stop()));
    await receiver.close();
  }
}
