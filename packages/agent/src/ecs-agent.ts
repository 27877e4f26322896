import type { ECSClient } from "@aws-sdk/client-ecs";
import { type EcsRunConfig, InvalidConfigError } from "@regent/core";
import { type Agent, type AgentOptions, agentLog, startAgent } from "./agent-options.js";
import { RUNTIME_COMMAND } from "./internal/run-launch.js";

export interface EcsAgentOptions extends AgentOptions {
  /**
   * The ECS API client. Default: one from the environment, as the AWS SDK reads it (`AWS_REGION`, the
   * credential chain, `AWS_ENDPOINT_URL_ECS`), retrying throttling and 5xx answers up to 5 times.
   */
  readonly ecs?: ECSClient | undefined;
  /**
   * For runs whose run config leaves them unset: cluster, launch type or capacity-provider strategy,
   * task and execution roles, network configuration, repository credentials, log configuration.
   */
  readonly defaults?: Partial<Omit<EcsRunConfig, "type">> | undefined;
  /** The image for runs whose run config and storage name none. */
  readonly image?: string | undefined;
  /** What the flow's container runs (default `regent execute flow-run`, as the runtime image provides). */
  readonly command?: readonly string[] | undefined;
  /** How often a launched task's state is read (default 5 s). */
  readonly taskPollMs?: number | undefined;
}

export type EcsAgent = Agent;

/**
 * Starts an ECS agent (DESIGN §6): the agent loop of every agent, launching each run as an ECS task
 * (Fargate, Fargate Spot through a capacity-provider strategy, or EC2). Checks first that AWS credentials
 * are found, naming where it looked when they are not.
 */
export async function startEcsAgent(options: EcsAgentOptions): Promise<EcsAgent> {
  // Loaded here, not with the package: other agents (and the CLI's other commands) do without the AWS SDK.
  const { ecsClientFromEnv, ecsLauncher } = await import("./internal/ecs-launcher.js");
  const ecs = options.ecs ?? ecsClientFromEnv();
  try {
    await ecs.config.credentials();
  } catch (error) {
    throw new InvalidConfigError(
      `no AWS credentials (${(error as Error).message}); looked in: env AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the shared files ~/.aws/credentials and ~/.aws/config (AWS_PROFILE), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS task role, and EC2 instance metadata`,
    );
  }
  return startAgent(
    options,
    ecsLauncher({
      ecs,
      apiUrl: options.apiUrl,
      command: options.command ?? RUNTIME_COMMAND,
      defaults: options.defaults ?? {},
      defaultImage: options.image,
      env: options.env ?? {},
      pollMs: options.taskPollMs ?? 5_000,
      startedBy: `regent-agent-${options.name}`,
      log: agentLog(options),
    }),
  );
}
