// The harness's ports (test/harness/ports.ts): two test processes picking ports at once never get
// the same one, the ports sit below the kernel's ephemeral range, and reservations end with their
// process.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../harness/binaries.js";
import { clearStaleReservations, freePort } from "../harness/ports.js";

const RESERVATIONS = path.join(os.tmpdir(), "switchyard-test-ports");
const PER_PROCESS = 300;

/** A node process that reserves `count` ports, prints them as one JSON line, and holds them until its stdin ends. */
function portPicker(count: number): { child: ChildProcessWithoutNullStreams; ports: Promise<number[]>; exited: Promise<void> } {
  const script = `
    import { freePort } from "./test/harness/ports.ts";
    const ports = [];
    for (let i = 0; i < ${count}; i++) ports.push(await freePort());
    console.log(JSON.stringify(ports));
    process.stdin.resume();
    process.stdin.on("end", () => process.exit(0));
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repoRoot });
  const ports = new Promise<number[]>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(JSON.parse(out) as number[]);
    });
    child.once("exit", (code) => reject(new Error(`port picker exited (${code}) before answering`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, ports, exited };
}

describe("harness ports", () => {
  it("never gives two test processes the same port, and frees them when they exit", async () => {
    const pickers = [portPicker(PER_PROCESS), portPicker(PER_PROCESS)];
    try {
      const [a, b] = await Promise.all(pickers.map((p) => p.ports));
      assert.equal(new Set(a).size, PER_PROCESS);
      const shared = a!.filter((port) => b!.includes(port));
      assert.deepEqual(shared, [], "no port handed to both processes");
      const ephemeralLow = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
      for (const port of [...a!, ...b!]) assert.ok(port < ephemeralLow, `port ${port} is below the ephemeral range (${ephemeralLow})`);
      for (const [i, ports] of [a!, b!].entries()) {
        const holder = fs.readFileSync(path.join(RESERVATIONS, String(ports[0])), "utf8").trim();
        assert.equal(holder, String(pickers[i]!.child.pid));
      }
      for (const p of pickers) p.child.stdin.end();
      await Promise.all(pickers.map((p) => p.exited));
      for (const port of [...a!, ...b!]) assert.equal(fs.existsSync(path.join(RESERVATIONS, String(port))), false, `reservation of ${port} removed at exit`);
    } finally {
      for (const p of pickers) p.child.kill("SIGKILL");
    }
  });

  it("clears only the reservations of processes that are gone", async () => {
    const mine = await freePort();
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => gone.once("exit", resolve));
    // Port 1 is never in the harness's range, so no live process holds its name.
    const stale = path.join(RESERVATIONS, "1");
    fs.writeFileSync(stale, `${gone.pid}\n`);
    clearStaleReservations();
    assert.equal(fs.existsSync(stale), false, "a dead process's reservation is cleared");
    assert.equal(fs.readFileSync(path.join(RESERVATIONS, String(mine)), "utf8").trim(), String(process.pid), "a live one is kept");
  });
});
