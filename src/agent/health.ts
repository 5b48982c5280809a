// The HTTP health check: an instance is healthy when `GET <path>` on its address answers with any
// status below 500 within the timeout. A fresh connection each time (no keep-alive), so a check
// sees what a new client would.

import http from "node:http";

export interface HealthResult {
  healthy: boolean;
  /** What was seen, for reports and logs: "HTTP 200", "HTTP 503", "connection refused", "timed out after 2000 ms". */
  detail: string;
}

export function checkHealth(address: string, path: string, timeoutMs: number): Promise<HealthResult> {
  const separator = address.lastIndexOf(":");
  const host = address.slice(0, separator).replace(/^\[|\]$/g, "");
  const port = Number(address.slice(separator + 1));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HealthResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const request = http.get({ host, port, path, agent: false, headers: { "user-agent": "switchyard-agent health check" } }, (response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      finish({ healthy: status > 0 && status < 500, detail: `HTTP ${status}` });
    });
    request.on("error", (error: NodeJS.ErrnoException) => finish({ healthy: false, detail: error.code === "ECONNREFUSED" ? "connection refused" : error.message }));
    const timer = setTimeout(() => finish({ healthy: false, detail: `timed out after ${timeoutMs} ms` }), timeoutMs);
  });
}
