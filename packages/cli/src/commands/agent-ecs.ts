import { readFileSync } from "node:fs";
import { startEcsAgent } from "@regent/agent";
import { type Config, type EcsRunConfig, InvalidUsageError, parseCapacityProvider } from "@regent/core";
import { type AgentFlags, agentSettings, runUntilSignalled } from "./agent-start.js";

export interface EcsAgentFlags extends AgentFlags {
  cluster?: string;
  launchType?: string;
  capacityProvider: string[];
  subnet: string[];
  securityGroup: string[];
  assignPublicIp?: boolean;
  taskRoleArn?: string;
  executionRoleArn?: string;
  runTaskKwargs?: string;
  logGroup?: string;
  image?: string;
}

/** The agent's `[ecs]` settings: its flags over the section (env `REGENT__ECS__…`). */
function ecsSettings(config: Config, flags: EcsAgentFlags): Config["ecs"] {
  const ecs = config.ecs;
  const list = (given: string[], configured: string[] | undefined) => (given.length ? given : configured);
  return {
    cluster: flags.cluster ?? ecs.cluster,
    launch_type: (flags.launchType ?? ecs.launch_type) as Config["ecs"]["launch_type"],
    capacity_providers: list(flags.capacityProvider, ecs.capacity_providers),
    subnets: list(flags.subnet, ecs.subnets),
    security_groups: list(flags.securityGroup, ecs.security_groups),
    assign_public_ip: flags.assignPublicIp ?? ecs.assign_public_ip,
    task_role_arn: flags.taskRoleArn ?? ecs.task_role_arn,
    execution_role_arn: flags.executionRoleArn ?? ecs.execution_role_arn,
    run_task_kwargs: flags.runTaskKwargs ?? ecs.run_task_kwargs,
    log_group: flags.logGroup ?? ecs.log_group,
    image: flags.image ?? ecs.image,
  };
}

/** The agent's defaults for runs: its flags over the `[ecs]` section (env `REGENT__ECS__…`). */
export function ecsDefaults(config: Config, flags: EcsAgentFlags): Partial<Omit<EcsRunConfig, "type">> {
  const ecs = ecsSettings(config, flags);
  const launchType = ecs.launch_type as EcsRunConfig["launchType"];
  if (launchType && !["FARGATE", "EC2", "EXTERNAL"].includes(launchType))
    throw new InvalidUsageError(`--launch-type is FARGATE, EC2 or EXTERNAL (got "${launchType}")`);
  const providers = ecs.capacity_providers ?? [];
  if (launchType && providers.length)
    throw new InvalidUsageError(
      "give --launch-type or --capacity-provider, not both (ECS refuses a RunTask with both)",
    );
  const subnets = ecs.subnets ?? [];
  const securityGroups = ecs.security_groups ?? [];
  const publicIp = ecs.assign_public_ip;
  const kwargsFile = ecs.run_task_kwargs;
  let runTaskKwargs: Record<string, unknown> | undefined;
  if (kwargsFile) {
    try {
      runTaskKwargs = JSON.parse(readFileSync(kwargsFile, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidUsageError(`--run-task-kwargs ${kwargsFile}: ${(error as Error).message}`);
    }
    if (runTaskKwargs === null || typeof runTaskKwargs !== "object" || Array.isArray(runTaskKwargs))
      throw new InvalidUsageError(`--run-task-kwargs ${kwargsFile}: not a JSON object`);
  }
  if (!subnets.length && securityGroups.length)
    throw new InvalidUsageError("--security-group goes with --subnet (the task's awsvpc network)");
  const cluster = ecs.cluster;
  const taskRoleArn = ecs.task_role_arn;
  const executionRoleArn = ecs.execution_role_arn;
  const logGroup = ecs.log_group;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (logGroup && !region)
    throw new InvalidUsageError("--log-group needs the AWS region the group is in: set AWS_REGION");
  return {
    ...(cluster ? { cluster } : {}),
    ...(launchType ? { launchType } : {}),
    ...(providers.length ? { capacityProviderStrategy: providers.map(parseCapacityProvider) } : {}),
    ...(subnets.length
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets,
              ...(securityGroups.length ? { securityGroups } : {}),
              ...(publicIp !== undefined
                ? { assignPublicIp: publicIp ? ("ENABLED" as const) : ("DISABLED" as const) }
                : {}),
            },
          },
        }
      : {}),
    ...(taskRoleArn ? { taskRoleArn } : {}),
    ...(executionRoleArn ? { executionRoleArn } : {}),
    ...(runTaskKwargs ? { runTaskKwargs } : {}),
    ...(logGroup
      ? {
          logConfiguration: {
            logDriver: "awslogs",
            options: {
              "awslogs-group": logGroup,
              "awslogs-region": region!,
              "awslogs-stream-prefix": "flow",
            },
          },
        }
      : {}),
  };
}

/** The `[ecs]` settings alone as run defaults (in a flow's task: those its agent gave it). */
export const ecsConfigDefaults = (config: Config) =>
  ecsDefaults(config, { label: [], capacityProvider: [], subnet: [], securityGroup: [] });

/**
 * The agent's ECS settings (its flags over `[ecs]`) as the `REGENT__ECS__…` variables of the runs it
 * launches: a flow whose cluster workers are ECS tasks starts them with the same cluster, capacity,
 * network, roles and logs as its own task (the executor reads them back with ecsDefaults).
 */
export function ecsSettingsEnv(config: Config, flags: EcsAgentFlags): Record<string, string> {
  // run_task_kwargs names a file on the agent's machine, not in the run's task.
  const { run_task_kwargs: _file, ...settings } = ecsSettings(config, flags);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    env[`REGENT__ECS__${key.toUpperCase()}`] = Array.isArray(value) ? JSON.stringify(value) : String(value);
  }
  return env;
}

/**
 * `regent agent ecs start`: an ECS agent that runs each claimed flow run as an ECS task (Fargate, Fargate
 * Spot, EC2), until SIGINT or SIGTERM; then it waits for the runs under way (up to 30 s, then stops their
 * tasks) and exits 0. AWS region and credentials come from the environment, as the AWS SDK reads them.
 */
export async function agentEcsStart(config: Config, flags: EcsAgentFlags): Promise<number> {
  const { options: common, log, banner } = agentSettings(config, flags, "ecs");
  const defaults = ecsDefaults(config, flags);
  const how = defaults.capacityProviderStrategy
    ? defaults.capacityProviderStrategy.map((p) => p.capacityProvider).join("+")
    : (defaults.launchType ?? "FARGATE");
  return runUntilSignalled(
    () =>
      startEcsAgent({
        ...common,
        defaults,
        image: flags.image ?? config.ecs.image,
        env: ecsSettingsEnv(config, flags),
      }),
    (agent) => banner("Regent ECS agent", agent, `, cluster ${defaults.cluster ?? "default"}, ${how}`),
    log,
  );
}
