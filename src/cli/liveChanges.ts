import { Command } from "commander";
import { LiveChangeOutcome, type ProjectRoutingState, ProjectRoutingStateSchema } from "../gen/ctrl/v1/resources_pb.js";
import { deployClient } from "./client.js";
import { operation } from "./openapi.js";
import { derivedIdempotencyKey } from "./idempotencyKey.js";
import { printJson, runCommand } from "./output.js";

interface Options {
  project?: string;
  allowBreakingChanges?: boolean;
  expectedLive?: string;
  json?: boolean;
  idempotencyKey?: string;
  url?: string;
}

const RETRY_KEY =
  "retry key (a retry with it returns the first answer); default: derived from the arguments and the CI run, so a retried step is deduplicated — give a new one to repeat the change on purpose";
const URL_OPTION = "API URL (default $SWITCHYARD_URL)";

export function promoteCommand(): Command {
  return new Command("promote")
    .description("make a ready production deployment live (promoting the live one of a rolled-back project confirms the rollback)")
    .argument("<deployment>", "deployment id")
    .option("--project <id>", "guard: fail unless the deployment is in this project")
    .option("--allow-breaking-changes", "promote even when the project's breaking-changes policy is block and the spec breaks the live one's clients")
    .option("--json", "print the routing state as JSON")
    .option("--idempotency-key <key>", RETRY_KEY)
    .option("--url <url>", URL_OPTION)
    .action((deploymentId: string, options: Options) =>
      runCommand(async () => {
        const projectId = options.project ?? "";
        const allowBreakingChanges = options.allowBreakingChanges ?? false;
        const idempotencyKey = options.idempotencyKey ?? derivedIdempotencyKey(["promote", deploymentId, projectId, ...(allowBreakingChanges ? ["allow-breaking-changes"] : [])]);
        const answer = await deployClient(options).promote({ deploymentId, projectId, idempotencyKey, allowBreakingChanges });
        print(answer.state!, options.json);
        // On stderr, so --json stays the routing state alone.
        for (const change of answer.breakingChanges) process.stderr.write(`warning: breaking API change: ${operation(change)}: ${change.message} [${change.id}]\n`);
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
    .option("--idempotency-key <key>", RETRY_KEY)
    .option("--url <url>", URL_OPTION)
    .action((deploymentId: string, options: Options) =>
      runCommand(async () => {
        const projectId = options.project ?? "";
        const expectedLiveDeploymentId = options.expectedLive ?? "";
        const idempotencyKey = options.idempotencyKey ?? derivedIdempotencyKey(["rollback", deploymentId, projectId, expectedLiveDeploymentId]);
        const { state } = await deployClient(options).rollback({ deploymentId, projectId, expectedLiveDeploymentId, idempotencyKey });
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
