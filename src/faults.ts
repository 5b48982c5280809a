import { existsSync, readFileSync, writeFileSync } from "node:fs";

/**
 * Fault injection for durability tests: with SWITCHYARD_FAULT_KILL_AFTER_STEP=<step name> and
 * SWITCHYARD_FAULT_MARKER=<file>, the process SIGKILLs itself right after that step's side
 * effect committed and before Restate journaled it — the worst moment to die. The marker file
 * makes it one-shot, so the restarted process (same environment) runs through. Unset in
 * production: then this is one comparison per step.
 *
 * The kill is armed for every invocation this process runs, so a test must arm it only while
 * nothing else on its restate-server can run a step of that name (the harness checks that when
 * it starts a switchyard with a fault). The marker records which invocation hit it, so a kill
 * that lands elsewhere is named in the failure.
 */
export function killAfterStepIfRequested(step: string, invocation: { id: string; target: string }): void {
  const target = process.env.SWITCHYARD_FAULT_KILL_AFTER_STEP;
  if (!target || target !== step) return;
  const marker = process.env.SWITCHYARD_FAULT_MARKER;
  if (!marker || existsSync(marker)) return;
  const hit: FaultHit = { step, pid: process.pid, invocationId: invocation.id, target: invocation.target, at: new Date().toISOString() };
  writeFileSync(marker, `${JSON.stringify(hit)}\n`);
  process.kill(process.pid, "SIGKILL");
}

/** What a fault marker says: which process killed itself, after which step of which invocation. */
export interface FaultHit {
  step: string;
  pid: number;
  invocationId: string;
  /** Service/key/handler of the invocation, as Restate names it. */
  target: string;
  at: string;
}

/** The hit recorded in a marker file, or undefined while the fault has not fired. */
export function readFaultMarker(marker: string): FaultHit | undefined {
  try {
    return JSON.parse(readFileSync(marker, "utf8")) as FaultHit;
  } catch {
    return undefined;
  }
}

/**
 * Fault injection for the error path of the API: with SWITCHYARD_FAULT_RPC_ERROR=<Service/Method>
 * (e.g. ctrl.v1.CtrlService/Version) that RPC fails with an unexpected (non-Connect) error after
 * authentication, as a bug would, every time. Unset in production: then this is one comparison
 * per RPC.
 */
export function failRpcIfRequested(rpc: string): void {
  const target = process.env.SWITCHYARD_FAULT_RPC_ERROR;
  if (!target || target !== rpc) return;
  throw new InjectedFault(`injected fault in ${rpc} (SWITCHYARD_FAULT_RPC_ERROR)`);
}

export class InjectedFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InjectedFault";
  }
}
