// Small, crash-safe file writes for the agent's state directory: a file is either its old or its
// new content, never half of each (write a temp file, fsync, rename over, fsync the directory).

import fs from "node:fs";
import path from "node:path";

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await fs.promises.open(temp, "w", mode);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, file);
  const dir = await fs.promises.open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The parsed JSON of `file`, or undefined when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as T;
}
