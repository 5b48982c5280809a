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
