import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { generateIdentityKeyPair, identityPublicKey } from "../restate/identityKeys.js";
import { runCommand } from "./output.js";

/**
 * `switchyard secrets <dir>`: the secrets a self-contained setup (docker-compose.yml) shares
 * between its containers, made once and kept: restate-identity.pem (restate-server signs its
 * requests with it), restate-identity.pub (the `publickeyv1_…` switchyard accepts) and
 * mysql-password. Files are world-readable inside the directory because each container runs as
 * its own user; keep the directory itself (a volume) private to those containers.
 */
export function secretsCommand(): Command {
  return new Command("secrets")
    .description("create (once) the Restate request-identity key pair and a database password in <dir>")
    .argument("<dir>", "directory to keep them in, e.g. a docker volume")
    .action((dir: string) =>
      runCommand(async () => {
        fs.mkdirSync(dir, { recursive: true });
        const file = (name: string) => path.join(dir, name);
        const keep = (name: string, make: () => string) => {
          if (!fs.existsSync(file(name))) fs.writeFileSync(file(name), make(), { mode: 0o644, flag: "wx" });
        };
        keep("restate-identity.pem", () => generateIdentityKeyPair().privateKeyPem);
        fs.writeFileSync(file("restate-identity.pub"), `${identityPublicKey(fs.readFileSync(file("restate-identity.pem"), "utf8"))}\n`, { mode: 0o644 });
        keep("mysql-password", () => `${randomBytes(24).toString("hex")}\n`);
        process.stdout.write(`secrets in ${dir}: restate-identity.pem, restate-identity.pub, mysql-password\n`);
      }),
    );
}
