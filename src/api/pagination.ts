import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { sql, type SelectQueryBuilder } from "kysely";
import type { Config } from "../config.js";
import { invalidArgument } from "./errors.js";
import { pageSize as checkedPageSize } from "./validation.js";

// Keyset pagination for every List RPC, in one place. A page token is the position after the
// page's last row (its sort key values) plus a digest of the request's filters, signed with
// HMAC-SHA256 under a server key: a token the server did not make, or one altered in any way,
// does not verify and is refused with InvalidArgument naming `page_token`. The values inside are
// checked against the types of the sort keys before they reach a query.
//
// The key is derived (HKDF) from the vault's master keys, so every replica signs alike and a
// rotated-out key still verifies; without master keys each process draws a random one (tokens
// then last as long as the process, which is all a client may assume anyway).

export interface PageKey<Row> {
  /** The column as the query names it ("hostname", "d.event_id"). */
  column: string;
  order: "asc" | "desc";
  type: "string" | "int";
  value: (row: Row) => string | number;
}

export interface PageRequest {
  config: Config;
  pageToken: string;
  pageSize: number;
  /** Everything the request filters on (and the caller's tenant): a token works only with the same. */
  filters: Record<string, unknown>;
}

const VERSION = 1;
const MAX_TOKEN = 1024;
const MAX_STRING_KEY = 512;
const signers = new WeakMap<Config, Buffer[]>();

function keysOf(config: Config): Buffer[] {
  let keys = signers.get(config);
  if (!keys) {
    keys = config.masterKeys.length > 0
      ? config.masterKeys.map((master) => Buffer.from(hkdfSync("sha256", master.key, Buffer.alloc(0), "switchyard page tokens v1", 32)))
      : [randomBytes(32)];
    signers.set(config, keys);
  }
  return keys;
}

const mac = (key: Buffer, payload: Buffer) => createHmac("sha256", key).update(payload).digest().subarray(0, 16);
const digestOf = (filters: Record<string, unknown>) => createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 22);

export function encodePageToken(config: Config, position: (string | number)[], filters: Record<string, unknown>): string {
  const payload = Buffer.from(JSON.stringify([VERSION, position, digestOf(filters)]));
  return `${payload.toString("base64url")}.${mac(keysOf(config)[0]!, payload).toString("base64url")}`;
}

/** The position a token holds, typed as `types`; undefined for the first page. */
export function decodePageToken(config: Config, token: string, filters: Record<string, unknown>, types: readonly PageKey<unknown>["type"][]): (string | number)[] | undefined {
  if (token === "") return undefined;
  const refuse = () => invalidArgument("page_token", "is not a page token returned by this API");
  const [body, signature, extra] = token.length <= MAX_TOKEN ? token.split(".") : [];
  if (!body || !signature || extra !== undefined) throw refuse();
  const payload = Buffer.from(body, "base64url");
  const given = Buffer.from(signature, "base64url");
  if (given.length !== 16 || !keysOf(config).some((key) => timingSafeEqual(mac(key, payload), given))) throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString("utf8"));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed[0] !== VERSION || !Array.isArray(parsed[1]) || typeof parsed[2] !== "string") throw refuse();
  if (parsed[2] !== digestOf(filters)) throw invalidArgument("page_token", "belongs to a request with other filters");
  const position = parsed[1] as unknown[];
  const typed = position.length === types.length && position.every((value, i) => (types[i] === "int" ? Number.isSafeInteger(value) : typeof value === "string" && value.length <= MAX_STRING_KEY));
  if (!typed) throw refuse();
  return position as (string | number)[];
}

/**
 * One page of `query` in the order of `keys` (the last key must make rows unique), after the
 * request's token, and the token of the next page ("" after the last one).
 */
export async function keysetPage<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  request: PageRequest,
  keys: readonly PageKey<Row>[],
): Promise<{ rows: Row[]; nextPageToken: string }> {
  const size = checkedPageSize(request.pageSize);
  const position = decodePageToken(request.config, request.pageToken, request.filters, keys.map((k) => k.type));
  let paged = query;
  if (position) {
    // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR … — with < for descending keys.
    const branches = keys.map((key, i) => {
      const equal = keys.slice(0, i).map((earlier, j) => sql`${sql.ref(earlier.column)} = ${position[j]}`);
      const beyond = sql`${sql.ref(key.column)} ${sql.raw(key.order === "asc" ? ">" : "<")} ${position[i]}`;
      return sql.join([...equal, beyond], sql` and `);
    });
    paged = paged.where(sql<boolean>`(${sql.join(branches.map((b) => sql`(${b})`), sql` or `)})`);
  }
  for (const key of keys) paged = paged.orderBy(sql.ref(key.column), key.order);
  const rows = await paged.limit(size + 1).execute();
  const page = rows.slice(0, size) as Row[];
  const last = page.at(-1);
  return {
    rows: page,
    nextPageToken: rows.length > size && last ? encodePageToken(request.config, keys.map((k) => k.value(last)), request.filters) : "",
  };
}
