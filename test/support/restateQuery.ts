// Restate's own view of invocations, through the admin API's SQL endpoint (what the Restate UI and
// `restate sql` read): which handlers ran, and whether they completed, failed or still retry.

export interface InvocationRow {
  id: string;
  target_service_name: string;
  target_service_key: string | null;
  target_handler_name: string;
  status: string;
  retry_count: number | null;
  last_failure: string | null;
  completion_result: string | null;
  completion_failure: string | null;
}

/** Rows of a SQL query over Restate's system tables (sys_invocation, …). */
export async function restateQuery<T = Record<string, unknown>>(adminUrl: string, query: string): Promise<T[]> {
  const response = await fetch(`${adminUrl}/query`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`restate query failed: HTTP ${response.status} ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { rows: T[] }).rows;
}

/** Every invocation of one handler of one service (and key, when given). */
export function invocationsOf(adminUrl: string, service: string, handler: string, key?: string): Promise<InvocationRow[]> {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return restateQuery<InvocationRow>(
    adminUrl,
    `SELECT id, target_service_name, target_service_key, target_handler_name, status, retry_count, last_failure, completion_result, completion_failure
       FROM sys_invocation
      WHERE target_service_name = ${quote(service)} AND target_handler_name = ${quote(handler)}${key === undefined ? "" : ` AND target_service_key = ${quote(key)}`}`,
  );
}
