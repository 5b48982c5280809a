// The container driver: every instance is a podman container run from the deployment's image
// (a digest when the control plane resolved one), pulled from its registry on first use.
//
//   podman run -d --name switchyard-<run id>
//     --label switchyard.agent=<agent id> switchyard.region=… switchyard.deployment=…
//             switchyard.instance=… switchyard.slot=… switchyard.run=… switchyard.address=…
//     --env-file <state>/instances/<id>/env (0600, removed once the container exists)
//     -p 127.0.0.1:<host port>:<port>        (or --network host, PORT = the host port)
//     --log-opt max-size=<log max>  --ulimit …  (flags detected at start: runtimeFlags.ts)
//     <image> [--entrypoint <the deployment's command>]
//
// Containers outlive the agent (conmon supervises them); an agent started again finds its own by
// the labels (list()) and adopts them, so nothing runs twice. A run that ended is removed once its
// last log lines are kept in <state>/instances/<id>/last.log for the failure report.

import fs from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { newId } from "../db/ids.js";
import { freePort, LOOPBACK, portFree } from "../dev/net.js";
import { killAfterStepIfRequested } from "../faults.js";
import { lastLines, Podman, PodmanError } from "../containers/podman.js";
import type { Driver, InstanceRun, InstanceSpec, Observation } from "./driver.js";
import { InstanceStartError } from "./driver.js";

export interface ContainerDriverOptions {
  stateDir: string;
  agentId: string;
  region: string;
  podman: Podman;
  /** "publish": a loopback port published onto the container's; "host": the host's network. */
  network: "publish" | "host";
  stopGraceMs: number;
  logMaxBytes: number;
  /** Bound on one image pull. */
  pullTimeoutMs: number;
  log: Logger;
}

const LABEL = {
  agent: "switchyard.agent",
  region: "switchyard.region",
  deployment: "switchyard.deployment",
  instance: "switchyard.instance",
  slot: "switchyard.slot",
  run: "switchyard.run",
  address: "switchyard.address",
  startedAt: "switchyard.started-at",
} as const;

/** The port an application listens on inside its container when the deployment declares none. */
const DEFAULT_CONTAINER_PORT = 8080;
const CALL_TIMEOUT_MS = 30_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface PsEntry {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string> | null;
}

export class ContainerDriver implements Driver {
  readonly name = "container";
  private readonly podman: Podman;
  private readonly instancesDir: string;

  constructor(private readonly opts: ContainerDriverOptions) {
    this.podman = opts.podman;
    this.instancesDir = path.join(opts.stateDir, "instances");
  }

  /** Exits are noticed by observe() at the next check of the run (every health interval at most). */
  onExit(): void {}

  async start(spec: InstanceSpec, preferredAddress?: string): Promise<InstanceRun> {
    if (!spec.image) throw new InstanceStartError("the container driver runs the deployment's image and this deployment has none");
    for (const key of Object.keys(spec.env)) {
      if (!ENV_NAME.test(key)) throw new InstanceStartError(`env: "${key}" is not a variable name a container accepts`);
      if (/[\r\n\0]/.test(spec.env[key]!)) throw new InstanceStartError(`env: the value of ${key} contains a line break, which a container's environment file cannot carry`);
    }
    const existing = await this.containersOf({ instance: spec.instanceId });
    const running = existing.find((c) => c.State === "running");
    if (running) throw new Error(`instance ${spec.instanceId} still runs as container ${running.Names[0]}`);
    for (const stale of existing) await this.removeContainer(stale.Names[0]!, spec.instanceId);

    await this.pull(spec.image);

    const dir = path.join(this.instancesDir, spec.instanceId);
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const runId = newId("run");
    const name = `switchyard-${runId}`;
    const hostPort = await choosePort(preferredAddress);
    const containerPort = this.opts.network === "host" ? hostPort : spec.port || DEFAULT_CONTAINER_PORT;
    const address = `${LOOPBACK}:${hostPort}`;
    const startedAt = Date.now();
    const env = { ...spec.env, PORT: String(containerPort), SWITCHYARD_INSTANCE_ID: spec.instanceId, SWITCHYARD_RUN_ID: runId };
    const envFile = path.join(dir, "env");
    await fs.promises.writeFile(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
    const labels = {
      [LABEL.agent]: this.opts.agentId,
      [LABEL.region]: this.opts.region,
      [LABEL.deployment]: spec.deploymentId,
      [LABEL.instance]: spec.instanceId,
      [LABEL.slot]: String(spec.slot),
      [LABEL.run]: runId,
      [LABEL.address]: address,
      [LABEL.startedAt]: String(startedAt),
    };
    const args = (limits: string[]) => [
      "run",
      "--detach",
      "--name",
      name,
      ...Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
      "--env-file",
      envFile,
      ...(this.opts.network === "host" ? ["--network", "host"] : ["--publish", `${LOOPBACK}:${hostPort}:${containerPort}`]),
      "--log-driver",
      "k8s-file",
      "--log-opt",
      `max-size=${this.opts.logMaxBytes}`,
      ...limits,
      ...(spec.command.length > 0 ? ["--entrypoint", JSON.stringify(spec.command)] : []),
      spec.image,
    ];
    try {
      const result = await this.podman.runLimited(args, { timeoutMs: CALL_TIMEOUT_MS }, async () => {
        this.opts.log.warn({ limits: this.podman.limitFlags() }, "the container runtime refused a limit: lowered, starting again");
        await this.removeContainer(name, undefined);
      });
      if (result.code !== 0) {
        // A container that was created but could not start (a missing entrypoint) is not left behind.
        await this.removeContainer(name, spec.instanceId).catch(() => undefined);
        const why = result.timedOut ? "timed out" : lastLines(result.stderr || result.stdout, 5);
        if (result.timedOut) throw new Error(`podman run of ${spec.image}: ${why}`);
        throw new InstanceStartError(`could not start a container of ${spec.image}: ${why}`);
      }
    } finally {
      await fs.promises.rm(envFile, { force: true });
    }
    killAfterStepIfRequested("container driver: started", { id: runId, target: `agent/${spec.instanceId}` });
    return { instanceId: spec.instanceId, deploymentId: spec.deploymentId, slot: spec.slot, runId, address, startedAt };
  }

  async observe(run: InstanceRun): Promise<Observation> {
    const result = await this.podman.run(["inspect", "--type", "container", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", containerName(run)], { timeoutMs: CALL_TIMEOUT_MS });
    if (result.code !== 0) {
      if (/no such/i.test(result.stderr)) return { state: "exited", detail: "its container is gone (removed outside the agent)" };
      throw new Error(`podman inspect: ${lastLines(result.stderr, 3)}`);
    }
    const [status, code, oom] = result.stdout.trim().split(" ");
    if (status === "running") return { state: "running" };
    return { state: "exited", detail: oom === "true" ? "its container was killed for using too much memory" : `its container ${status === "exited" ? `exited with code ${code}` : `is ${status}`}` };
  }

  async stop(run: InstanceRun): Promise<void> {
    const name = containerName(run);
    const graceS = Math.ceil(this.opts.stopGraceMs / 1000);
    const stopped = await this.podman.run(["stop", "--time", String(graceS), name], { timeoutMs: this.opts.stopGraceMs + CALL_TIMEOUT_MS });
    if (stopped.code !== 0 && !/no such/i.test(stopped.stderr)) throw new Error(`could not stop container ${name}: ${lastLines(stopped.stderr, 3)}`);
    await this.removeContainer(name, run.instanceId);
  }

  async list(): Promise<InstanceRun[]> {
    const runs: InstanceRun[] = [];
    for (const container of await this.containersOf({})) {
      const labels = container.Labels ?? {};
      if (container.State !== "running") {
        // Ended while no agent watched (or killed from outside): keep its last lines, then let it go.
        await this.removeContainer(container.Names[0]!, labels[LABEL.instance]).catch((error: Error) =>
          this.opts.log.warn({ container: container.Names[0], error: error.message }, "could not remove an ended container"),
        );
        continue;
      }
      runs.push({
        instanceId: labels[LABEL.instance]!,
        deploymentId: labels[LABEL.deployment]!,
        slot: Number(labels[LABEL.slot]),
        runId: labels[LABEL.run]!,
        address: labels[LABEL.address]!,
        startedAt: Number(labels[LABEL.startedAt]),
      });
    }
    return runs;
  }

  async logTail(instanceId: string, maxLines: number): Promise<string> {
    const [current] = await this.containersOf({ instance: instanceId });
    if (current) {
      const result = await this.podman.run(["logs", "--tail", String(maxLines), current.Names[0]!], { timeoutMs: CALL_TIMEOUT_MS });
      const text = `${result.stdout}${result.stderr}`;
      if (result.code === 0 && text.trim()) return lastLines(text, maxLines);
    }
    return fs.promises.readFile(path.join(this.instancesDir, instanceId, "last.log"), "utf8").then((t) => lastLines(t, maxLines), () => "");
  }

  async remove(instanceId: string): Promise<void> {
    const containers = await this.containersOf({ instance: instanceId });
    if (containers.some((c) => c.State === "running")) return;
    for (const container of containers) await this.removeContainer(container.Names[0]!, undefined);
    await fs.promises.rm(path.join(this.instancesDir, instanceId), { recursive: true, force: true });
  }

  /** Container logs are bounded by podman (--log-opt max-size); nothing to do here. */
  async maintain(): Promise<void> {}

  /** Pulls an image unless it is present (a digest never changes; a tag is pulled every start). */
  private async pull(image: string): Promise<void> {
    if (image.includes("@sha256:")) {
      const present = await this.podman.run(["image", "exists", image], { timeoutMs: CALL_TIMEOUT_MS });
      if (present.code === 0) return;
    }
    try {
      await this.podman.ok(["pull", "--quiet", ...this.podman.tlsFlags(image), image], { timeoutMs: this.opts.pullTimeoutMs });
    } catch (error) {
      if (!(error instanceof PodmanError) || error.result.timedOut) throw error;
      throw new InstanceStartError(`could not pull image ${image}: ${error.message.replace(/^podman pull: /, "")}`);
    }
  }

  /** This agent's containers (of one instance, when given), running or not. */
  private async containersOf(filter: { instance?: string }): Promise<PsEntry[]> {
    const filters = [`label=${LABEL.agent}=${this.opts.agentId}`, `label=${LABEL.region}=${this.opts.region}`];
    if (filter.instance) filters.push(`label=${LABEL.instance}=${filter.instance}`);
    const out = await this.podman.ok(["ps", "--all", "--format", "json", ...filters.flatMap((f) => ["--filter", f])], { timeoutMs: CALL_TIMEOUT_MS });
    return (JSON.parse(out || "[]") as PsEntry[]) ?? [];
  }

  /** Keeps the container's last log lines (for a later failure report), then removes it. */
  private async removeContainer(name: string, instanceId: string | undefined): Promise<void> {
    if (instanceId) {
      const logs = await this.podman.run(["logs", "--tail", "200", name], { timeoutMs: CALL_TIMEOUT_MS });
      const text = `${logs.stdout}${logs.stderr}`;
      if (logs.code === 0 && text.trim()) {
        const dir = path.join(this.instancesDir, instanceId);
        await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
        await fs.promises.writeFile(path.join(dir, "last.log"), text, { mode: 0o600 });
      }
    }
    const removed = await this.podman.run(["rm", "--force", "--time", "0", name], { timeoutMs: CALL_TIMEOUT_MS });
    if (removed.code !== 0 && !/no such/i.test(removed.stderr)) throw new Error(`could not remove container ${name}: ${lastLines(removed.stderr, 3)}`);
  }
}

function containerName(run: InstanceRun): string {
  return `switchyard-${run.runId}`;
}

/** The previous run's port when it is still free, else any free loopback port. */
async function choosePort(preferredAddress: string | undefined): Promise<number> {
  const preferred = Number(preferredAddress?.split(":").at(-1));
  if (Number.isInteger(preferred) && preferred > 0 && (await portFree(preferred))) return preferred;
  return freePort();
}
