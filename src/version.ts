import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const packageJson = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

/** The release version from package.json. */
export const VERSION: string = packageJson.version;

/** The git commit of the running code: SWITCHYARD_GIT_COMMIT (set by image builds) or `git rev-parse`. */
export const GIT_COMMIT: string = (() => {
  if (process.env.SWITCHYARD_GIT_COMMIT) return process.env.SWITCHYARD_GIT_COMMIT;
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: new URL("..", import.meta.url),
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2000,
    })
      .toString()
      .trim();
  } catch {
    return "unknown";
  }
})();

export const STARTED_AT = new Date();
