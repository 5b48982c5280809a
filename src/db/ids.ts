import { monotonicFactory, ulid, type PRNG } from "ulid";

// Resource ids are `<prefix>_<ulid in lowercase>`, e.g. `dep_01jdq4x0f3k6y9v2c8m5n7p1rt`: the
// prefix tells a reader (and an error message) what kind of thing an id names, and the ULID
// sorts by creation time. Id columns are VARCHAR(32) ASCII, so a prefix has at most 5 letters.
//
// Known prefixes: ws (workspace), prj (project), env (environment), dep (deployment),
// inst (instance), rte (generated-hostname route), nrt (network route), dom (custom domain),
// crt (certificate), acu (ACME account), chl (ACME challenge), whk (webhook endpoint),
// whd (webhook delivery), oas (OpenAPI spec).
//
// Workflow code must be deterministic: inside a Restate handler pass `time` and `prng` from the
// Restate context (`ctx.date.now()`, `ctx.rand.random`) or call newId inside a `ctx.run` step.

const PREFIX = /^[a-z]{1,5}$/;
const monotonic = monotonicFactory();

export interface NewIdOptions {
  /** Milliseconds since the epoch to encode; defaults to now. */
  time?: number;
  /** Random source returning [0, 1); defaults to a crypto-backed generator. */
  prng?: PRNG;
}

export function newId(prefix: string, opts: NewIdOptions = {}): string {
  if (!PREFIX.test(prefix)) {
    throw new Error(`newId: prefix "${prefix}" must be 1-5 lowercase letters`);
  }
  const id = opts.prng ? ulid(opts.time, opts.prng) : monotonic(opts.time);
  return `${prefix}_${id.toLowerCase()}`;
}

const ID = /^[a-z]{1,5}_[0-9a-hjkmnp-tv-z]{26}$/;

/** True when `value` looks like an id made by newId (optionally with the given prefix). */
export function isId(value: string, prefix?: string): boolean {
  return ID.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`));
}
