import { Command, Option } from "commander";
import { GATEWAY_FLAGS, gatewayConfig, type GatewayOptions } from "../gateway/config.js";
import { runRegionProcess } from "./regionProcess.js";

/** `switchyard gateway`: the per-region process that drives the data plane (src/gateway/). */
export function gatewayCommand(): Command {
  const command = new Command("gateway").description("serve one region's gateway configs: watch them and drive the data plane (Caddy, through its admin API) to match");
  for (const spec of Object.values(GATEWAY_FLAGS)) command.addOption(new Option(spec.flag, spec.help).env(spec.env));
  command
    .addHelpText("after", "\nThe credential comes from $SWITCHYARD_GATEWAY_TOKEN (the region's credential of SWITCHYARD_AGENT_TOKENS; never a flag). Exit codes: 0 stopped cleanly, 1 could not start, 2 bad settings.")
    .action((options: GatewayOptions) => runRegionProcess("gateway", () => gatewayConfig(options), async (config, logger) => (await import("../gateway/gateway.js")).startGateway(config, logger)));
  return command;
}
