import { Command, Option } from "commander";
import { AGENT_FLAGS, agentConfig, type AgentOptions } from "../agent/config.js";
import { runRegionProcess } from "./regionProcess.js";

/** `switchyard agent`: the per-region process that runs deployments (src/agent/). */
export function agentCommand(): Command {
  const command = new Command("agent").description(
    "run one region's deployments: watch the desired state, run and health-check instances, report them (the process driver is unsandboxed: development, tests, single-tenant machines)",
  );
  for (const spec of Object.values(AGENT_FLAGS)) command.addOption(new Option(spec.flag, spec.help).env(spec.env));
  command
    .option("--keep-instances", "on SIGTERM, leave the instances running for the next agent process to adopt (env SWITCHYARD_AGENT_KEEP_INSTANCES=true)")
    .addHelpText("after", "\nThe credential comes from $SWITCHYARD_AGENT_TOKEN (never a flag). Exit codes: 0 stopped cleanly, 1 could not start, 2 bad settings.")
    .action((options: AgentOptions) => runRegionProcess("agent", () => agentConfig(options), async (config, logger) => (await import("../agent/agent.js")).startAgent(config, logger)));
  return command;
}
