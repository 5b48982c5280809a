// `switchyard <args>` as a child process (the CLI as users run it), bounded to a minute.
import { spawn } from "node:child_process";
import { repoRoot } from "../harness/index.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  out: string;
}

export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
    const run: CliRun = { code: null, stdout: "", stderr: "", out: "" };
    child.stdout.on("data", (d: Buffer) => ((run.stdout += d), (run.out += d)));
    child.stderr.on("data", (d: Buffer) => ((run.stderr += d), (run.out += d)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ...run, code });
    });
  });
}
