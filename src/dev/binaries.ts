// Locating the programs the dev stack and the test harness run. System programs come from PATH
// (plus the standard sbin directories, where Debian installs mariadbd, which are not on a normal
// user's PATH); restate-server comes from this repository's node_modules.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above this file). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const SBIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `name` found on PATH (then in the sbin directories), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, ...SBIN_DIRS]) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export class MissingBinaryError extends Error {
  constructor(
    readonly binary: string,
    readonly debianPackage: string,
  ) {
    super(`${binary} not found: apt-get install ${debianPackage}`);
    this.name = "MissingBinaryError";
  }
}

/** Absolute path of a system program; throws "mariadbd not found: apt-get install mariadb-server". */
export function requireBinary(name: string, debianPackage: string): string {
  const found = findBinary(name);
  if (!found) throw new MissingBinaryError(name, debianPackage);
  return found;
}

/**
 * The restate-server executable itself. node_modules/.bin/restate-server is a Node wrapper that
 * spawns the platform binary; a SIGKILL to the wrapper would orphan the server, so we run the
 * platform binary directly and only fall back to the wrapper.
 */
export function restateServerBinary(): string {
  const require = createRequire(path.join(repoRoot, "package.json"));
  try {
    return require.resolve(`@restatedev/restate-server-${os.platform()}-${os.arch()}/bin/restate-server`);
  } catch {
    const wrapper = path.join(repoRoot, "node_modules", ".bin", "restate-server");
    if (isExecutable(wrapper)) return wrapper;
    throw new Error("restate-server not found in node_modules: run npm ci (package @restatedev/restate-server)");
  }
}

/** stdout of a short command run synchronously (bounded to 20 s). */
export function commandOutput(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "pipe"] });
}
