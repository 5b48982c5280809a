// Ports for the servers the harness starts, unique across every test process running at once.
//
// A port found by binding :0 is only free "a moment ago": the harness picks it, and the process
// that will listen on it binds it seconds later (tsx loading on a busy machine). Meanwhile the
// test file running beside this one may pick the same port for its own server — or an agent may
// give it to an app instance, or an outgoing connection may use it — and a readiness probe then
// connects to somebody else's server (CI once saw a test's first RPC answered "invalid bearer
// token" by another file's switchyard). So the harness takes its ports from below the kernel's
// ephemeral range, where nothing binds :0 or connects from, and reserves each one across
// processes with a file named after it (created exclusively, holding the pid of the test process).
// A process removes its reservations when it exits; `npm test` clears those of processes that
// are gone (clearStaleReservations).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort as anyFreePort, portFree, udpPortFree } from "../../src/dev/net.js";

const RESERVATIONS = path.join(os.tmpdir(), "switchyard-test-ports");
const LOWEST = 15_000;
const ATTEMPTS = 200;

const reserved: string[] = [];
let exitHookInstalled = false;

/** The ports below the kernel's ephemeral range that the harness may use, or undefined if too few. */
function harnessRange(): { low: number; high: number } | undefined {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: keep the IANA default
  }
  const high = ephemeralLow - 1;
  return high - LOWEST >= 2_000 ? { low: LOWEST, high } : undefined;
}

/** Claims `port` for this process, or false if another test process holds it. */
function reserve(port: number): boolean {
  if (reserved.length === 0) fs.mkdirSync(RESERVATIONS, { recursive: true });
  const file = path.join(RESERVATIONS, String(port));
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  reserved.push(file);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const f of reserved) fs.rmSync(f, { force: true });
    });
  }
  return true;
}

async function reservedPort(isFree: (port: number) => Promise<boolean>): Promise<number> {
  const range = harnessRange();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = range ? range.low + Math.floor(Math.random() * (range.high - range.low + 1)) : await anyFreePort();
    if (reserve(port)) {
      if (await isFree(port)) return port;
      // Something outside the harness listens there: keep the reservation so no one retries it.
    }
  }
  throw new Error(`harness: found no free port in ${ATTEMPTS} attempts (reservations in ${RESERVATIONS})`);
}

/** A TCP port on 127.0.0.1 that no other test process will be given. */
export function freePort(): Promise<number> {
  return reservedPort((port) => portFree(port));
}

/** A port free for both TCP and UDP on 127.0.0.1 (for DNS servers), reserved the same way. */
export function freeTcpUdpPort(): Promise<number> {
  return reservedPort(async (port) => (await portFree(port)) && (await udpPortFree(port)));
}

/** Removes the reservations of test processes that no longer run (a SIGKILLed file). */
export function clearStaleReservations(): void {
  let names: string[];
  try {
    names = fs.readdirSync(RESERVATIONS);
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(RESERVATIONS, name);
    let pid: number;
    try {
      pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    } catch {
      continue; // removed by its owner meanwhile
    }
    if (!Number.isInteger(pid) || !processAlive(pid)) fs.rmSync(file, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
