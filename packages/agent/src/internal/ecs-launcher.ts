import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import { type EcsRunConfig, InvalidConfigError, usesFargate } from "@regent/core";
import { parse } from "yaml";
import type { ClaimedRun, Launched, Launcher, LaunchOutcome, WorkerLaunch } from "./launcher.js";
import { runConfigFor } from "./run-config.js";
import { noImage, runEnvironment, runImage, WORKER_COMMAND, withAgentDefaults } from "./run-launch.js";

/** An ECS client as the AWS SDK configures one from the environment, retrying throttling and 5xx up to 5 times. */
export const ecsClientFromEnv = (): ECSClient => new ECSClient({ maxAttempts: 5 });

/** The name of the flow's container in the task definitions the agent registers. */
export const FLOW_CONTAINER = "flow";

export interface EcsLauncherOptions {
  readonly ecs: ECSClient;
  /** The API address given to runs (they reach it from their tasks). */
  readonly apiUrl: string;
  /** What the flow's container runs (the runtime image's `regent execute flow-run`). */
  readonly command: readonly string[];
  /** Fields for runs whose run config leaves them unset (the agent's flags): cluster, strategy, roles, network. */
  readonly defaults: Partial<Omit<EcsRunConfig, "type">>;
  /** The image for runs whose run config and storage name none. */
  readonly defaultImage: string | undefined;
  /** Extra environment for every run (under the run config's). */
  readonly env: Readonly<Record<string, string>>;
  /** How often a task's state is read (DescribeTasks). */
  readonly pollMs: number;
  /** `startedBy` on the tasks (the agent's name). */
  readonly startedBy: string;
  readonly log: (line: string) => void;
}

/** A task's stop, in the words an infrastructure failure is reported with. */
export function stoppedOutcome(task: Task, memoryMiB: number | undefined): LaunchOutcome {
  const reason = task.stoppedReason ?? "no reason given";
  const container = task.containers?.find((c) => c.name === FLOW_CONTAINER) ?? task.containers?.[0];
  // Kept in the failure's state data: the API and UI show it, and the next attempt's launch reads it.
  const data = { taskArn: task.taskArn, stopCode: task.stopCode, stoppedReason: reason };
  switch (task.stopCode) {
    case "SpotInterruption":
      return {
        kind: "exited",
        description: `was stopped by a Fargate Spot interruption (SpotInterruption: ${reason})`,
        exitCode: null,
        signal: null,
        data,
      };
    case "TaskFailedToStart":
      return {
        kind: "not-started",
        error: new Error(`${reason}${container?.reason ? ` (${container.reason})` : ""}`),
      };
    default:
      break;
  }
  if (container?.reason?.startsWith("OutOfMemoryError"))
    return {
      kind: "exited",
      description: `was killed for using more memory than its limit${memoryMiB ? ` of ${memoryMiB} MiB` : ""} (${container.reason})`,
      exitCode: container.exitCode ?? null,
      signal: "SIGKILL",
      data,
    };
  if (task.stopCode === "EssentialContainerExited" && container?.exitCode !== undefined)
    return {
      kind: "exited",
      description: `exited with code ${container.exitCode}${container.reason ? ` (${container.reason})` : ""}`,
      exitCode: container.exitCode,
      signal: null,
      data,
    };
  return {
    kind: "exited",
    description: `was stopped (${task.stopCode ?? "no stop code"}: ${reason})`,
    exitCode: container?.exitCode ?? null,
    signal: null,
    data,
  };
}

/** A task definition template from a YAML or JSON file; an error naming the file when it cannot be one. */
async function templateFile(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new InvalidConfigError(`taskDefinitionPath ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new InvalidConfigError(`taskDefinitionPath ${path}: not a task definition (a YAML or JSON object)`);
  return parsed as Record<string, unknown>;
}

/**
 * The capacity-provider strategy for an attempt after a Fargate Spot interruption, under `on-demand`
 * fallback: the strategy without its FARGATE_SPOT providers (FARGATE when nothing is left).
 */
export function onDemandStrategy(
  strategy: NonNullable<EcsRunConfig["capacityProviderStrategy"]>,
): NonNullable<EcsRunConfig["capacityProviderStrategy"]> {
  const kept = strategy.filter((p) => p.capacityProvider !== "FARGATE_SPOT");
  return kept.length ? kept : [{ capacityProvider: "FARGATE", weight: 1 }];
}

/**
 * Runs each flow run as an ECS task: registers a task definition for the flow version (or uses the one
 * its run config names), RunTask with the launch type or capacity-provider strategy, the network, the
 * run's cpu/memory, roles and environment (with its own token), then follows the task (DescribeTasks)
 * until it stops and says how: a Spot interruption, a container that could not be pulled or exited, out
 * of memory. The AWS SDK retries throttling and 5xx answers with backoff.
 */
export function ecsLauncher(options: EcsLauncherOptions): Launcher {
  const { ecs } = options;
  /** Task definitions registered by this agent, by the hash of their input: each is registered once. */
  const registered = new Map<string, Promise<string>>();
  /** The revision this agent registered last in each family: the hash of its input, and its flow version. */
  const newest = new Map<string, { key: string; arn: string; flowId: string }>();
  /** Task definitions a RunTask of this agent is about to use (they must not be deregistered meanwhile). */
  const inUse = new Map<string, number>();
  const containerNames = new Map<string, Promise<string>>();

  const withDefaults = (config: EcsRunConfig): EcsRunConfig => {
    const merged = withAgentDefaults(options.defaults, config);
    // A run config's strategy replaces the agent's launch type, and the other way round.
    if (config.capacityProviderStrategy) delete merged.launchType;
    if (config.launchType) delete merged.capacityProviderStrategy;
    return merged;
  };

  const taskDefinitionFor = async (run: ClaimedRun, flowConfig: EcsRunConfig, image: string) => {
    const template = (flowConfig.taskDefinition ??
      (flowConfig.taskDefinitionPath
        ? await templateFile(flowConfig.taskDefinitionPath)
        : {})) as Partial<RegisterTaskDefinitionCommandInput>;
    const fargate = usesFargate(flowConfig);
    const containers = template.containerDefinitions?.length
      ? template.containerDefinitions
      : [{ name: FLOW_CONTAINER }];
    const input: RegisterTaskDefinitionCommandInput = {
      ...template,
      // One family per flow (its versions are its revisions), so the revision a new version replaces can go.
      family: template.family ?? `regent-${run.flowVersionGroupId ?? run.flowId}`,
      ...(fargate ? { networkMode: "awsvpc", requiresCompatibilities: ["FARGATE"] } : {}),
      ...(flowConfig.cpu ? { cpu: String(flowConfig.cpu) } : {}),
      ...(flowConfig.memory ? { memory: String(flowConfig.memory) } : {}),
      ...(flowConfig.taskRoleArn ? { taskRoleArn: flowConfig.taskRoleArn } : {}),
      ...(flowConfig.executionRoleArn ? { executionRoleArn: flowConfig.executionRoleArn } : {}),
      containerDefinitions: containers.map((c, i) =>
        i === 0
          ? {
              ...c,
              name: c.name ?? FLOW_CONTAINER,
              image,
              essential: true,
              command: c.command ?? [...options.command],
              ...(flowConfig.repositoryCredentials
                ? { repositoryCredentials: { credentialsParameter: flowConfig.repositoryCredentials } }
                : {}),
              ...(flowConfig.logConfiguration ? { logConfiguration: flowConfig.logConfiguration } : {}),
            }
          : c,
      ) as RegisterTaskDefinitionCommandInput["containerDefinitions"],
      tags: [...(template.tags ?? []), { key: "regent:flow-id", value: run.flowId }],
    };
    const key = createHash("sha256").update(JSON.stringify(input)).digest("hex");
    let arn = registered.get(key);
    if (!arn) {
      arn = (async () => {
        const { taskDefinition } = await ecs.send(new RegisterTaskDefinitionCommand(input));
        const made = taskDefinition?.taskDefinitionArn;
        if (!made) throw new Error("RegisterTaskDefinition returned no taskDefinitionArn");
        options.log(`registered task definition ${made}`);
        // The revision it replaces, made by this agent for an earlier version of the flow, is stale:
        // deregistered, unless a RunTask is about to use it (tasks still running on it go on; ECS keeps
        // INACTIVE definitions for them). Revisions of the same version (a run's own image) are kept.
        const older = newest.get(input.family!);
        newest.set(input.family!, { key, arn: made, flowId: run.flowId });
        if (older && older.arn !== made && older.flowId !== run.flowId && !inUse.get(older.arn)) {
          registered.delete(older.key);
          await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: older.arn })).then(
            () => options.log(`deregistered task definition ${older.arn}, replaced by ${made}`),
            (error: Error) =>
              options.log(`could not deregister task definition ${older.arn}: ${error.message}`),
          );
        }
        return made;
      })();
      registered.set(key, arn);
      arn.catch(() => registered.delete(key));
    }
    return { arn: await arn, container: containers[0]?.name ?? FLOW_CONTAINER };
  };

  /** The essential container of a task definition the agent did not make (its overrides name it). */
  const containerOf = (arn: string) => {
    let name = containerNames.get(arn);
    if (!name) {
      name = ecs
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))
        .then(({ taskDefinition }) => {
          const containers = taskDefinition?.containerDefinitions ?? [];
          const found = containers.find((c) => c.essential !== false) ?? containers[0];
          if (!found?.name) throw new Error(`task definition ${arn} has no container`);
          return found.name;
        });
      containerNames.set(arn, name);
      name.catch(() => containerNames.delete(arn));
    }
    return name;
  };

  return {
    type: "ecs",
    noun: "ECS task",
    wantsLastSchedule: true,
    launch(run: ClaimedRun, worker?: WorkerLaunch): Launched {
      const label = worker ? `[${run.name} ${worker.id}]` : `[${run.name}]`;
      const flowConfig = withDefaults(runConfigFor("ecs", null, run.flowRunConfig));
      const config = withDefaults(runConfigFor("ecs", run.runConfig, run.flowRunConfig));
      const afterSpot = run.lastSchedule?.stopCode === "SpotInterruption";
      const fallback =
        afterSpot &&
        (config.spotFallback ?? "on-demand") === "on-demand" &&
        config.capacityProviderStrategy?.some((p) => p.capacityProvider === "FARGATE_SPOT");
      if (fallback && config.capacityProviderStrategy) {
        config.capacityProviderStrategy = onDemandStrategy(config.capacityProviderStrategy);
        options.log(
          `${label} its last attempt was stopped by a Spot interruption: this one runs on ${config.capacityProviderStrategy.map((p) => p.capacityProvider).join("+")} (spotFallback "on-demand")`,
        );
      }
      const image = runImage(config.image, run, options.defaultImage);
      if (!image && !config.taskDefinitionArn) throw noImage("ecsRun", ", or a taskDefinitionArn");
      if (usesFargate(config) && !config.networkConfiguration?.awsvpcConfiguration.subnets.length)
        throw new InvalidConfigError(
          "a Fargate task needs subnets: set ecsRun({ networkConfiguration: { awsvpcConfiguration: { subnets: [...] } } }), or start the agent with --subnet",
        );
      const needsExecutionRole = [
        config.repositoryCredentials && "pull with repository credentials",
        config.logConfiguration?.logDriver === "awslogs" && "write its logs to CloudWatch (awslogs)",
        image && /\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\//.test(image) && "pull its image from ECR",
      ].filter(Boolean);
      if (!config.taskDefinitionArn && !config.executionRoleArn && needsExecutionRole.length)
        throw new InvalidConfigError(
          `the task needs an execution role to ${needsExecutionRole.join(" and ")}: set ecsRun({ executionRoleArn }), or start the agent with --execution-role-arn`,
        );
      const env = runEnvironment(run, options.apiUrl, options.env, config.env);
      let taskArn: string | undefined;
      let stopAsked: boolean | undefined;
      const cluster = config.cluster;

      const stopTask = (why: string) =>
        ecs
          .send(new StopTaskCommand({ cluster, task: taskArn!, reason: why.slice(0, 255) }))
          .catch((error: Error) => options.log(`could not stop ${taskArn}: ${error.message}`));

      const ended = (async (): Promise<LaunchOutcome> => {
        try {
          const definition = config.taskDefinitionArn
            ? { arn: config.taskDefinitionArn, container: await containerOf(config.taskDefinitionArn) }
            : await taskDefinitionFor(run, flowConfig, image!);
          const input: RunTaskCommandInput = {
            cluster,
            taskDefinition: definition.arn,
            count: 1,
            startedBy: options.startedBy.slice(0, 128),
            ...(config.capacityProviderStrategy
              ? { capacityProviderStrategy: config.capacityProviderStrategy }
              : { launchType: config.launchType ?? "FARGATE" }),
            ...(config.networkConfiguration ? { networkConfiguration: config.networkConfiguration } : {}),
            overrides: {
              ...(config.cpu ? { cpu: String(config.cpu) } : {}),
              ...(config.memory ? { memory: String(config.memory) } : {}),
              containerOverrides: [
                {
                  name: definition.container,
                  environment: Object.entries(env).map(([name, value]) => ({ name, value })),
                  ...(worker ? { command: [...WORKER_COMMAND, ...worker.args] } : {}),
                },
              ],
            },
            tags: [
              { key: "regent:flow-run-id", value: run.id },
              { key: "regent:flow-id", value: run.flowId },
              ...(worker ? [{ key: "regent:worker-id", value: worker.id }] : []),
              ...(fallback ? [{ key: "regent:spot-fallback", value: "on-demand" }] : []),
            ],
            ...(config.runTaskKwargs as Partial<RunTaskCommandInput> | undefined),
          };
          inUse.set(definition.arn, (inUse.get(definition.arn) ?? 0) + 1);
          const { tasks, failures } = await ecs
            .send(new RunTaskCommand(input))
            .finally(() => inUse.set(definition.arn, (inUse.get(definition.arn) ?? 1) - 1));
          taskArn = tasks?.[0]?.taskArn;
          if (!taskArn) {
            const why = failures?.map((f) => `${f.reason ?? "no reason"}${f.detail ? ` (${f.detail})` : ""}`);
            throw new Error(`RunTask started no task: ${why?.join("; ") || "no failure given"}`);
          }
          options.log(`${label} started ECS task ${taskArn}`);
          if (stopAsked !== undefined) void stopTask("the run was stopped before its task started");
          let lastStatus: string | undefined;
          let describeError: string | undefined;
          for (;;) {
            await new Promise((r) => setTimeout(r, options.pollMs));
            let task: Task | undefined;
            try {
              const found = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
              task = found.tasks?.[0];
              describeError = undefined;
              if (!task && found.failures?.some((f) => f.reason === "MISSING"))
                return {
                  kind: "exited",
                  description: "was lost (ECS no longer knows the task)",
                  exitCode: null,
                  signal: null,
                };
            } catch (error) {
              // The SDK has retried already; the task is still followed at the next poll.
              if ((error as Error).message !== describeError) {
                describeError = (error as Error).message;
                options.log(`${label} reading ECS task ${taskArn} failed: ${describeError}; trying again`);
              }
              continue;
            }
            if (!task) continue;
            if (task.lastStatus !== lastStatus) {
              lastStatus = task.lastStatus;
              options.log(`${label} ECS task ${taskArn}: ${lastStatus}`);
            }
            if (task.lastStatus === "STOPPED") return stoppedOutcome(task, config.memory);
          }
        } catch (error) {
          return { kind: "not-started", error: error as Error };
        }
      })();

      return {
        get ref() {
          return taskArn ? `ECS task ${taskArn}` : undefined;
        },
        ended,
        stop(force) {
          if (!taskArn) {
            stopAsked = force;
            return;
          }
          void stopTask(force ? "Regent: the run was cancelled" : "Regent: the agent is stopping");
        },
      };
    },
  };
}
