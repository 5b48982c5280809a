import type { Logger } from "../log.js";

export interface RegisteredDeployment {
  id: string;
  services: { name: string; revision: number }[];
}

export interface RegisterOptions {
  adminUrl: string;
  endpointUrl: string;
  /** Bound on the whole registration, including waiting for restate-server to come up. */
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * Registers our Restate endpoint with the admin API. `force: true` makes it idempotent: the
 * same URI is re-discovered and overwritten, so a restart after a code change publishes the new
 * handlers instead of failing on a schema difference. Retries while restate-server is starting.
 */
export async function registerEndpoint({ adminUrl, endpointUrl, timeoutMs = 30_000, logger }: RegisterOptions): Promise<RegisteredDeployment> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  let lastProblem = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${adminUrl}/deployments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ uri: endpointUrl, force: true }),
        signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
      });
      const body = await response.text();
      if (response.ok) {
        const deployment = JSON.parse(body) as RegisteredDeployment;
        logger?.info({ deploymentId: deployment.id, services: deployment.services.map((s) => s.name) }, "registered with restate");
        return deployment;
      }
      lastProblem = `HTTP ${response.status}: ${body.slice(0, 500)}`;
      // 4xx other than "not ready" means the endpoint itself is wrong: retrying will not help.
      if (response.status >= 400 && response.status < 500 && response.status !== 404 && response.status !== 409) break;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    logger?.debug({ problem: lastProblem }, "restate registration pending");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 2000);
  }
  throw new Error(`could not register ${endpointUrl} with restate admin at ${adminUrl}: ${lastProblem}`);
}

/** Lists the deployments restate-server knows (admin API). */
export async function listDeployments(adminUrl: string): Promise<{ id: string; uri?: string; services: { name: string }[] }[]> {
  const response = await fetch(`${adminUrl}/deployments`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`restate admin ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { deployments: { id: string; uri?: string; services: { name: string }[] }[] };
  return body.deployments;
}

/**
 * Cancels an invocation: Restate delivers a CancelledError to the handler, which runs its
 * compensations. An invocation that already completed (409) needs nothing.
 */
export async function cancelInvocation(adminUrl: string, invocationId: string): Promise<void> {
  const response = await fetch(`${adminUrl}/invocations/${encodeURIComponent(invocationId)}/cancel`, {
    method: "PATCH",
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok && response.status !== 409 && response.status !== 404) {
    throw new Error(`restate admin: cancel ${invocationId}: ${response.status} ${await response.text()}`);
  }
}

/** Runs a query of Restate's SQL introspection API (sys_invocation, state, …) and returns its rows. */
export async function queryAdmin<Row>(adminUrl: string, query: string): Promise<Row[]> {
  const response = await fetch(`${adminUrl}/query`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`restate admin: query answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  return ((await response.json()) as { rows: Row[] }).rows;
}
