import { Command } from "commander";
import { LiveChangeOutcome, type ProjectRoutingState, ProjectRoutingStateSchema } from "../gen/ctrl/v1/resources_pb.js";
import { deployClient } from "./client.js";
import { printJson, runCommand } from "./output.js";

interface Options {
  project?: string;
  expectedLive?: string;
  json?: boolean;
  idempotencyKey?: string;
  url?: string;
}

export function promoteCommand(): Command {
  return new Command("promote")
    .description("make a ready production deployment live (promoting the live one of a rolled-back project confirms the rollback)")
    .argument("<deployment>", "deployment id")
    .option("--project <id>", "guard: fail unless the deployment is in this project")
    .option("--json", "print the routing state as JSON")
    .option("--idempotency-key <key>", "retry key: a retry with it returns the first answer")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((deploymentId: string, options: Options) =>
      runCommand(async () => {
        const { state } = await deployClient(options).promote({ deploymentId, projectId: options.project ?? "", idempotencyKey: options.idempotencyKey ?? "" });
        print(state!, options.json);
      }),
    );
}

export function rollbackCommand(): Command {
  return new Command("rollback")
    .description("point live traffic back at an earlier ready deployment; the project stays rolled back until the next promote")
    .argument("<deployment>", "the earlier deployment to make live")
    .option("--project <id>", "guard: fail unless the deployment is in this project")
    .option("--expected-live <id>", "guard: fail unless this is still the live deployment")
    .option("--json", "print the routing state as JSON")
    .option("--idempotency-key <key>", "retry key: a retry with it returns the first answer")
    .option("--url <url>", "API URL (default $SWITCHYARD_URL)")
    .action((deploymentId: string, options: Options) =>
      runCommand(async () => {
        const { state } = await deployClient(options).rollback({
          deploymentId,
          projectId: options.project ?? "",
          expectedLiveDeploymentId: options.expectedLive ?? "",
          idempotencyKey: options.idempotencyKey ?? "",
        });
        print(state!, options.json);
      }),
    );
}

const OUTCOME: Record<LiveChangeOutcome, string> = {
  [LiveChangeOutcome.UNSPECIFIED]: "unchanged",
  [LiveChangeOutcome.PROMOTED]: "promoted",
  [LiveChangeOutcome.ROLLED_BACK]: "rolled back",
  [LiveChangeOutcome.ROLLBACK_CONFIRMED]: "rollback confirmed",
};

function print(state: ProjectRoutingState, json: boolean | undefined) {
  if (json) return printJson(ProjectRoutingStateSchema, state);
  const lines = [
    `${OUTCOME[state.outcome]}: ${state.liveDeploymentId} is live${state.previousLiveDeploymentId ? ` (was ${state.previousLiveDeploymentId})` : ""}`,
    state.isRolledBack ? "project is rolled back: new production deploys will not go live until the next promote" : "",
    ...state.movedHostnames.map((h) => `  → ${h}`),
  ];
  process.stdout.write(`${lines.filter(Boolean).join("\n")}\n`);
}
