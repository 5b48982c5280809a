import fs from "node:fs";
import path from "node:path";
import { repoRoot } from "../../test/harness/index.js";

/** Prints the figures and writes bench/results/<name>.json. */
export function report(name: string, figures: Record<string, number | string>): void {
  const result = { ...figures, node: process.version, at: new Date().toISOString() };
  console.table(result);
  const out = path.join(repoRoot, "bench", "results", `${name}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path.relative(repoRoot, out)}`);
}
