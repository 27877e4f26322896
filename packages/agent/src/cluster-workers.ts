import {
  type EcsRunConfig,
  InvalidConfigError,
  mergeRunConfig,
  type RunConfig,
  RunConfigSchema,
} from "@regent/core";
import type { ClusterWorkerEnd, ClusterWorkerLauncher, ClusterWorkerLaunchers } from "@regent/sdk";
import { dockerConfigAuth } from "@regent/storage";
import Dockerode from "dockerode";
import { dockerLauncher } from "./internal/docker-launcher.js";
import type { ClaimedRun, Launcher, LaunchOutcome } from "./internal/launcher.js";
import { localLauncher } from "./internal/local-launcher.js";
import { RUNTIME_COMMAND } from "./internal/run-launch.js";

/** The flow run whose workers are launched, as its executor loaded it (what a claim would give). */
export type ClusterRunInfo = Pick<
  ClaimedRun,
  | "id"
  | "name"
  | "flowId"
  | "flowVersionGroupId"
  | "restartCount"
  | "runConfig"
  | "flowRunConfig"
  | "flowStorage"
>;

export interface ClusterWorkerLaunchersOptions {
  readonly run: ClusterRunInfo;
  /** The API address workers report to (from inside their containers too: host networking by default). */
  readonly apiUrl: string;
  /** The run's own token: workers act for the run and nothing else. */
  readonly token: string | undefined;
  /** `regent` for worker processes on this machine: e.g. `[process.execPath, ".../bin/regent.js"]`. */
  readonly regentCommand: readonly [string, ...string[]];
  /** The type of the runner's `infra`, when it names one: its launcher is loaded ahead. */
  readonly infraType?: string | undefined;
  /**
   * For ECS workers, what the run's own agent launched it with (cluster, strategy, network, roles, logs):
   * the executor reads them from the `REGENT__ECS__…` variables that agent gives its runs.
   */
  readonly ecsDefaults?: (() => Partial<Omit<EcsRunConfig, "type">>) | undefined;
  readonly log: (line: string) => void;
}

const typeOf = (config: unknown): string | undefined =>
  typeof config === "object" && config !== null && typeof (config as { type?: unknown }).type === "string"
    ? (config as { type: string }).type
    : undefined;

/**
 * How an executor starts `clusterTaskRunner` workers: with the agents' own launchers, so a worker gets
 * what a run would — a process with the run's environment and folder, or a container of the run's image
 * with its limits, network and registry credentials — and the run's token. `infra` (the runner's) names
 * where; without it workers go where the run itself runs.
 */
export async function clusterWorkerLaunchers(
  options: ClusterWorkerLaunchersOptions,
): Promise<ClusterWorkerLaunchers> {
  const { run } = options;
  // Only the launchers this run may use are loaded (the Kubernetes client and the AWS SDK are big).
  const types = new Set([options.infraType, typeOf(run.runConfig), typeOf(run.flowRunConfig)]);
  const modules: LauncherModules = {
    kubernetes: types.has("kubernetes") ? await import("./internal/kubernetes-launcher.js") : undefined,
    ecs: types.has("ecs") ? await import("./internal/ecs-launcher.js") : undefined,
  };
  return (infra: RunConfig | undefined): ClusterWorkerLauncher => {
    // Workers run as the run does (its flow's run config under its own override); an `infra` of the
    // flow's type goes over the flow's run config (it is the flow's code: no per-run limits apply), one
    // of another type stands alone.
    const flowType = typeOf(run.flowRunConfig) ?? "local";
    const type = typeOf(infra) ?? typeOf(run.runConfig) ?? flowType;
    let flowRunConfig: unknown = run.flowRunConfig ?? { type };
    let runConfig: unknown = run.runConfig;
    if (infra) {
      runConfig = undefined;
      flowRunConfig =
        infra.type === flowType
          ? mergeRunConfig(
              RunConfigSchema.parse({ type: flowType, ...(run.flowRunConfig as object) }),
              withoutType(infra),
            )
          : infra;
    }
    const launcher = launcherFor(type, options, modules);
    const claimed: ClaimedRun = {
      id: run.id,
      name: run.name,
      version: 0,
      flowId: run.flowId,
      flowVersionGroupId: run.flowVersionGroupId,
      restartCount: run.restartCount,
      runConfig: runConfig == null ? undefined : withoutType(runConfig),
      flowRunConfig,
      flowStorage: run.flowStorage,
      lastSchedule: undefined,
      token: options.token,
    };
    return {
      kind: type,
      start(workerId, args) {
        const launched = launcher.launch(claimed, { id: workerId, args });
        return {
          get ref() {
            return launched.ref;
          },
          ended: launched.ended.then(describe),
          stop: (force) => launched.stop(force),
        };
      },
    };
  };
}

const notLoaded = (type: string) =>
  new InvalidConfigError(
    `clusterTaskRunner: the ${type} launcher was not loaded (give the executor infraType)`,
  );

const withoutType = (config: unknown): Partial<RunConfig> => {
  const { type: _type, ...rest } = config as Record<string, unknown>;
  return rest as Partial<RunConfig>;
};

/** How a worker ended, with its last line of output when it failed (what `regent worker` said was wrong). */
function describe(outcome: LaunchOutcome): ClusterWorkerEnd {
  if (outcome.kind === "not-started")
    return { how: `could not be started: ${outcome.error.message}`, clean: false };
  const clean = outcome.exitCode === 0;
  const last = clean ? undefined : outcome.output?.at(-1)?.line;
  return { how: last ? `${outcome.description} (its last line: ${last})` : outcome.description, clean };
}

interface LauncherModules {
  readonly kubernetes: typeof import("./internal/kubernetes-launcher.js") | undefined;
  readonly ecs: typeof import("./internal/ecs-launcher.js") | undefined;
}

function launcherFor(
  type: string,
  options: ClusterWorkerLaunchersOptions,
  modules: LauncherModules,
): Launcher {
  const { kubernetes, ecs } = modules;
  switch (type) {
    case "local":
      return localLauncher({
        apiUrl: options.apiUrl,
        apiKey: undefined,
        executorCommand: [...options.regentCommand, ...RUNTIME_COMMAND.slice(1)] as [string, ...string[]],
        workerCommand: [...options.regentCommand, "worker"],
        env: {},
        poolSize: 0,
        log: options.log,
      });
    case "docker":
      return dockerLauncher({
        docker: new Dockerode(),
        apiUrl: options.apiUrl,
        apiKey: undefined,
        command: RUNTIME_COMMAND,
        defaultImage: undefined,
        network: "host",
        registryAuth: dockerConfigAuth(),
        env: {},
        removeContainers: true,
        log: options.log,
      });
    case "kubernetes": {
      if (!kubernetes) throw notLoaded(type);
      // In a pod: its service account (which needs to create Jobs and read pods in the namespace).
      const kubeConfig = new kubernetes.KubeConfig();
      kubeConfig.loadFromDefault();
      const namespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
      return kubernetes.kubernetesLauncher({
        kubeConfig,
        apiUrl: options.apiUrl,
        command: RUNTIME_COMMAND,
        defaults: namespace ? { namespace } : {},
        defaultImage: undefined,
        env: {},
        pollMs: 2_000,
        keepJobs: false,
        log: options.log,
      });
    }
    case "ecs":
      if (!ecs) throw notLoaded(type);
      // In an ECS task: its task role (which needs to run, describe and stop tasks, and pass the roles).
      return ecs.ecsLauncher({
        ecs: ecs.ecsClientFromEnv(),
        apiUrl: options.apiUrl,
        command: RUNTIME_COMMAND,
        defaults: options.ecsDefaults?.() ?? {},
        defaultImage: undefined,
        env: {},
        pollMs: 5_000,
        startedBy: `regent-workers-${options.run.id}`,
        log: options.log,
      });
    default:
      throw new InvalidConfigError(
        `clusterTaskRunner cannot start workers of type "${type}": give it infra: localRun(), dockerRun({ image }), kubernetesRun({ image }) or ecsRun({ image })`,
      );
  }
}
