import { Resolver } from "node:dns/promises";
import { QueryBudget } from "./queryBudget.js";

// DNS lookups for ownership checks, tri-state: a name either has records, provably has none,
// or could not be decided (timeout, SERVFAIL, refused, unreachable server). Only the first two
// may change what we believe; "unknown" never turns a proven fact false.

export type Lookup<T> = { kind: "found"; values: T[] } | { kind: "absent" } | { kind: "unknown"; reason: string };

export interface CaaRecord {
  tag: "issue" | "issuewild";
  value: string;
}

export interface DnsProbe {
  txt(name: string): Promise<Lookup<string>>;
  /** The issue/issuewild CAA records at exactly `name`. */
  caa(name: string): Promise<Lookup<CaaRecord>>;
  cname(name: string): Promise<Lookup<string>>;
  addresses(name: string): Promise<Lookup<string>>;
}

// NXDOMAIN and NODATA: the zone answered, and it has nothing of this type.
const ABSENT = new Set(["ENOTFOUND", "ENODATA"]);

async function lookupNow<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const values = await query();
    return values.length > 0 ? { kind: "found", values } : { kind: "absent" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (ABSENT.has(code)) return { kind: "absent" };
    return { kind: "unknown", reason: code === "ETIMEOUT" ? "DNS timeout" : code === "ESERVFAIL" ? "SERVFAIL" : code || (error as Error).message };
  }
}

const lower = (name: string) => name.toLowerCase().replace(/\.$/, "");

/**
 * A probe asking `servers` ("host:port"; empty = the system's resolvers), one try each, bounded
 * by `timeoutMs`, at most `queriesPerSecond` queries a second for the whole process.
 */
export function createDnsProbe(opts: { servers: readonly string[]; timeoutMs: number; queriesPerSecond: number }): DnsProbe {
  const resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
  if (opts.servers.length > 0) resolver.setServers([...opts.servers]);
  const budget = new QueryBudget(opts.queriesPerSecond);
  // The timeout covers the query, not the wait for the budget.
  const lookup = async <T>(query: () => Promise<T[]>): Promise<Lookup<T>> => {
    await budget.take();
    return lookupNow(query);
  };
  return {
    txt: (name) => lookup(async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(""))),
    cname: (name) => lookup(async () => (await resolver.resolveCname(name)).map(lower)),
    caa: (name) =>
      lookup(async () =>
        (await resolver.resolveCaa(name)).flatMap((record): CaaRecord[] => [
          ...(record.issue !== undefined ? [{ tag: "issue" as const, value: record.issue }] : []),
          ...(record.issuewild !== undefined ? [{ tag: "issuewild" as const, value: record.issuewild }] : []),
        ]),
      ),
    async addresses(name) {
      const [v4, v6] = await Promise.all([lookup(() => resolver.resolve4(name)), lookup(() => resolver.resolve6(name))]);
      if (v4.kind === "unknown") return v4;
      if (v6.kind === "unknown") return v6;
      const values = [...(v4.kind === "found" ? v4.values : []), ...(v6.kind === "found" ? v6.values : [])];
      return values.length > 0 ? { kind: "found", values } : { kind: "absent" };
    },
  };
}
