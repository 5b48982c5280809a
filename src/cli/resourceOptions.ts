import { UsageError } from "./output.js";

/** Options every `create` subcommand takes. */
export interface CreateOptions {
  json?: boolean;
  quiet?: boolean;
  url?: string;
}

/** Options every `list` subcommand takes. */
export interface ListOptions {
  limit: string;
  json?: boolean;
  url?: string;
}

export function listLimit(options: ListOptions): number {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit: "${options.limit}" must be 1-500`);
  return limit;
}
