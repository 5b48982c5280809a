import type { ManagedProcess } from "./process.js";

// The kill / restart / stop / logs every launcher hands out for the process it manages, in one
// place: kill() is a SIGKILL that leaves the temp dir for restart(); restart() after stop() is a
// mistake of the test; stop() is idempotent and ends with the launcher's own cleanup.

export interface ProcessControls {
  /** SIGKILL; restart() brings it back on the same ports and data. */
  kill(): Promise<void>;
  /** Start again (after kill() or on its own) and wait until it serves. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after the grace), then the launcher's cleanup. */
  stop(): Promise<void>;
  logs(maxLines?: number): string;
}

export interface ControlHooks {
  /** Waits until the restarted process serves. */
  ready(): Promise<void>;
  /** After a restart served again, with how long it took. */
  restarted?(ms: number): void;
  /** After stop(): temp dirs, leftovers. */
  cleanup?(): Promise<void> | void;
}

export function processControls(name: string, proc: ManagedProcess, hooks: ControlHooks): ProcessControls {
  let stopped = false;
  return {
    kill: () => proc.kill(),
    async restart() {
      if (stopped) throw new Error(`${name}: restart() after stop()`);
      const started = performance.now();
      await proc.restart();
      await hooks.ready();
      hooks.restarted?.(performance.now() - started);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await proc.stop();
      await hooks.cleanup?.();
    },
    logs: (maxLines?: number) => proc.logs(maxLines),
  };
}
