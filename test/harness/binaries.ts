// Locating the programs the harness runs: the lookup itself is shared with the dev stack
// (src/dev/binaries.ts); the list of programs the test suite needs lives here.

import { findBinary, MissingBinaryError } from "../../src/dev/binaries.js";

export { commandOutput, findBinary, MissingBinaryError, repoRoot, requireBinary, restateServerBinary } from "../../src/dev/binaries.js";

/** Every system program the test suite needs, with the Debian package that provides it. */
export const REQUIRED_BINARIES: ReadonlyArray<readonly [binary: string, debianPackage: string]> = [
  ["mariadbd", "mariadb-server"],
  ["mariadb-install-db", "mariadb-server"],
  ["pebble", "pebble"],
  ["pebble-challtestsrv", "pebble"],
  ["caddy", "caddy"],
  ["openssl", "openssl"],
  ["unbound", "unbound"],
  ["prometheus", "prometheus"],
  ["podman", "podman"],
  ["runc", "runc"],
  ["docker-registry", "docker-registry"],
  ["busybox", "busybox-static"],
  ["git", "git"],
];

/** Names every missing program at once ([] when all are present). */
export function missingBinaries(): MissingBinaryError[] {
  return REQUIRED_BINARIES.filter(([name]) => !findBinary(name)).map(([name, pkg]) => new MissingBinaryError(name, pkg));
}
