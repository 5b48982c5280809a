// A base image with node on PATH, made offline: busybox-static (a shell and the usual tools) plus
// this machine's node binary and the shared libraries it links, imported as one layer. Machines
// without a reachable public registry (the tests, the dev stack here) build the sample app FROM
// it (`--build-arg NODE_IMAGE=…`); anywhere else its Containerfile's default (node:20-alpine) works.

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { findBinary } from "../dev/binaries.js";
import type { Podman } from "./podman.js";

const run = promisify(execFile);

export const LOCAL_NODE_IMAGE = "localhost/switchyard/node:20";

/** Makes `tag` unless it exists in podman's storage; returns the tag. */
export async function ensureNodeBaseImage(podman: Podman, workDir: string, tag = LOCAL_NODE_IMAGE): Promise<string> {
  if ((await podman.run(["image", "exists", tag])).code === 0) return tag;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((file) => fs.existsSync(file));
  if (!busybox) throw new Error("busybox not found: apt-get install busybox-static");
  // The rootfs has no libraries for it: only a static busybox works there.
  const linked = await run("ldd", [busybox]).then(() => true, () => false);
  if (linked) throw new Error(`${busybox} is dynamically linked: apt-get install busybox-static`);
  const node = fs.realpathSync(findBinary("node") ?? process.execPath);
  const rootfs = path.join(workDir, "rootfs");
  await fs.promises.rm(rootfs, { recursive: true, force: true });
  for (const dir of ["bin", "usr/bin", "tmp", "etc", "app"]) await fs.promises.mkdir(path.join(rootfs, dir), { recursive: true });
  await fs.promises.chmod(path.join(rootfs, "tmp"), 0o1777);
  await fs.promises.copyFile(busybox, path.join(rootfs, "bin", "busybox"));
  await fs.promises.chmod(path.join(rootfs, "bin", "busybox"), 0o755);
  const { stdout: applets } = await run(busybox, ["--list"]);
  for (const applet of applets.split("\n").filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox")) {
    await fs.promises.symlink("busybox", path.join(rootfs, "bin", applet)).catch(() => undefined);
  }
  await fs.promises.copyFile(node, path.join(rootfs, "usr", "bin", "node"));
  await fs.promises.chmod(path.join(rootfs, "usr", "bin", "node"), 0o755);
  // The dynamic loader and every library `ldd node` names, at the same paths.
  const { stdout: ldd } = await run("ldd", [node]);
  for (const lib of ldd.match(/\/\S+\.so[^\s]*/g) ?? []) {
    const target = path.join(rootfs, lib);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.copyFile(fs.realpathSync(lib), target);
  }
  await fs.promises.writeFile(path.join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n");
  await fs.promises.writeFile(path.join(rootfs, "etc", "group"), "root:x:0:\napp:x:1000:\n");
  const tar = path.join(workDir, "rootfs.tar");
  await run("tar", ["-C", rootfs, "-cf", tar, "."]);
  await podman.ok(["import", "--change", "ENV PATH=/usr/bin:/bin", "--change", 'CMD ["/bin/sh"]', tar, tag], { timeoutMs: 120_000 });
  await fs.promises.rm(rootfs, { recursive: true, force: true });
  await fs.promises.rm(tar, { force: true });
  return tag;
}
