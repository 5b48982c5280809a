import { existsSync, writeFileSync } from "node:fs";

/**
 * Fault injection for durability tests: with SWITCHYARD_FAULT_KILL_AFTER_STEP=<step name> and
 * SWITCHYARD_FAULT_MARKER=<file>, the process SIGKILLs itself right after that step's side
 * effect committed and before Restate journaled it — the worst moment to die. The marker file
 * makes it one-shot, so the restarted process (same environment) runs through. Unset in
 * production: then this is one comparison per step.
 */
export function killAfterStepIfRequested(step: string): void {
  const target = process.env.SWITCHYARD_FAULT_KILL_AFTER_STEP;
  if (!target || target !== step) return;
  const marker = process.env.SWITCHYARD_FAULT_MARKER;
  if (!marker || existsSync(marker)) return;
  writeFileSync(marker, `${step}\n`);
  process.kill(process.pid, "SIGKILL");
}
