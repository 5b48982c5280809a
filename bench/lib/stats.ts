/** Nearest-rank percentile of a sample (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error("percentile of an empty sample");
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Two decimals, for printing and JSON. */
export const round = (n: number) => Math.round(n * 100) / 100;

/** Runs `once` warmup + iterations times, sequentially; returns the measured latencies (ms). */
export async function timeIt(iterations: number, warmup: number, once: (i: number) => PromiseLike<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const started = performance.now();
    await once(i);
    if (i >= warmup) samples.push(performance.now() - started);
  }
  return samples;
}

/** Resident set size of a process in MiB (Linux /proc). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return round(Number(kb) / 1024);
}
