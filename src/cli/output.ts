import { toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** Exit codes of the pipeline commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, timeout: 3 } as const;

/** A mistake in how the command was called (exit 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Prints a message as proto JSON (the same shape as the Connect JSON API). */
export function printJson<D extends DescMessage>(schema: D, message: MessageShape<D>): void {
  process.stdout.write(`${toJsonString(schema, message, { prettySpaces: 2 })}\n`);
}

/**
 * Runs a command body; errors become one line on stderr and an exit code — never a stack trace.
 * The server's message is printed as it is: it names the field or the state that is wrong.
 */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const connectError = ConnectError.from(error);
    const hint = connectError.code === Code.Unauthenticated ? " (check SWITCHYARD_TOKEN)" : connectError.code === Code.Unavailable ? " (check SWITCHYARD_URL; retrying is safe)" : "";
    process.stderr.write(`error: ${codeName(connectError.code)}: ${connectError.rawMessage}${hint}\n`);
    process.exitCode = EXIT.failed;
  }
}

function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** "12s", "3m04s": durations for progress lines. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 100) / 10;
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
}

/** Left-aligned columns separated by two spaces, with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}

/** "45s", "12m", "5h", "3d": how long ago. */
export function age(date: Date): string {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}
