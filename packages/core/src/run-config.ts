import { z } from "zod";
import { InvalidConfigError } from "./errors.js";
import { fargateSizeProblem } from "./fargate.js";

const EnvSchema = z.record(z.string(), z.string());
const LabelsSchema = z.array(z.string().min(1)).optional();

/** Runs a flow as a child process of the local agent. */
export const LocalRunConfigSchema = z.strictObject({
  type: z.literal("local"),
  env: EnvSchema.optional(),
  workingDir: z.string().optional(),
  labels: LabelsSchema,
});
export type LocalRunConfig = z.infer<typeof LocalRunConfigSchema>;

/** `host:container` or `host:container:ro` (a bind mount) / `volume-name:container[:ro]`. */
const VOLUME = /^[^:\s]+:\/[^:\s]*(:(ro|rw))?$/;

/**
 * Runs a flow in a container started by the Docker agent. `cpus` is fractional CPUs (`0.5`), `memory`
 * MiB (a run over it is killed, and reported as such); `network` defaults to the agent's (`host` unless
 * it was started with another).
 */
export const DockerRunConfigSchema = z.strictObject({
  type: z.literal("docker"),
  /** The image to run; unset: the flow's Docker storage image (or the agent's default image). */
  image: z.string().min(1).optional(),
  env: EnvSchema.optional(),
  cpus: z.number().positive().max(1024).optional(),
  memory: z
    .number()
    .int()
    .min(6, "memory is in MiB; Docker's minimum is 6")
    .max(16 * 1024 * 1024)
    .optional(),
  network: z.string().min(1).optional(),
  volumes: z
    .array(z.string().regex(VOLUME, 'a volume is "host-path-or-name:/container/path" with an optional ":ro"'))
    .optional(),
  labels: LabelsSchema,
});
export type DockerRunConfig = z.infer<typeof DockerRunConfigSchema>;

const CapacityProviderItemSchema = z.strictObject({
  capacityProvider: z.string().min(1),
  weight: z.number().int().min(0).max(1000).optional(),
  base: z.number().int().min(0).max(100_000).optional(),
});

/**
 * Runs a flow as an ECS task (Fargate, Fargate Spot or EC2), started by the ECS agent (DESIGN §3, §6).
 * `cpu` is in CPU units (1024 = 1 vCPU) and `memory` in MiB; on Fargate their pair must be a Fargate task
 * size. The task definition is one the agent registers from these fields (the default), a template
 * (`taskDefinition`, merged under them), or an existing one (`taskDefinitionArn`). `launchType` or a
 * `capacityProviderStrategy` (e.g. FARGATE_SPOT weight 3, FARGATE base 1 weight 2) picks the capacity;
 * `runTaskKwargs` are merged into RunTask's input as they are; `spotFallback` says where the attempt after
 * a Spot interruption runs.
 */
export const EcsRunConfigSchema = z
  .strictObject({
    type: z.literal("ecs"),
    image: z.string().min(1).optional(),
    env: EnvSchema.optional(),
    cpu: z.number().int().min(128).max(196_608).optional(),
    memory: z.number().int().min(128).max(1_000_000).optional(),
    taskDefinition: z.record(z.string(), z.unknown()).optional(),
    taskDefinitionArn: z.string().min(1).optional(),
    /** A task definition template in a YAML or JSON file on the agent's machine, as `taskDefinition`. */
    taskDefinitionPath: z.string().min(1).optional(),
    taskRoleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, "an IAM role ARN: arn:aws:iam::123456789012:role/NAME")
      .optional(),
    executionRoleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, "an IAM role ARN: arn:aws:iam::123456789012:role/NAME")
      .optional(),
    cluster: z.string().min(1).optional(),
    launchType: z.enum(["FARGATE", "EC2", "EXTERNAL"]).optional(),
    capacityProviderStrategy: z.array(CapacityProviderItemSchema).min(1).max(20).optional(),
    networkConfiguration: z
      .strictObject({
        awsvpcConfiguration: z.strictObject({
          subnets: z.array(z.string().min(1)).min(1).max(16),
          securityGroups: z.array(z.string().min(1)).max(5).optional(),
          assignPublicIp: z.enum(["ENABLED", "DISABLED"]).optional(),
        }),
      })
      .optional(),
    /** The ARN of the Secrets Manager secret with the private registry's credentials. */
    repositoryCredentials: z.string().min(1).optional(),
    logConfiguration: z
      .strictObject({
        logDriver: z.string().min(1),
        options: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    runTaskKwargs: z.record(z.string(), z.unknown()).optional(),
    /**
     * After a Fargate Spot interruption, the next attempt runs on on-demand FARGATE (`on-demand`, the
     * default: a deadline is not lost to a second reclaim) or on the same strategy again (`retry-spot`).
     */
    spotFallback: z.enum(["on-demand", "retry-spot"]).optional(),
    labels: LabelsSchema,
  })
  .superRefine((config, ctx) => {
    if (
      [config.taskDefinition, config.taskDefinitionArn, config.taskDefinitionPath].filter(Boolean).length > 1
    )
      ctx.addIssue({
        code: "custom",
        message:
          "give one of taskDefinition (a template), taskDefinitionPath (a template in a file) or taskDefinitionArn",
      });
    if (config.launchType && config.capacityProviderStrategy)
      ctx.addIssue({
        code: "custom",
        message: "give launchType or capacityProviderStrategy, not both (ECS refuses a RunTask with both)",
      });
    if (usesFargate(config)) {
      const problem = fargateSizeProblem(config.cpu, config.memory);
      if (problem) ctx.addIssue({ code: "custom", path: ["memory"], message: problem });
    }
  });
export type EcsRunConfig = z.infer<typeof EcsRunConfigSchema>;

/**
 * A capacity-provider strategy item from `NAME[:WEIGHT[:BASE]]` (`FARGATE_SPOT:3`, `FARGATE:2:1`), as the
 * ECS agent's flags and config write them. Throws InvalidConfigError for another shape.
 */
export function parseCapacityProvider(text: string): z.infer<typeof CapacityProviderItemSchema> {
  const m = /^([A-Za-z0-9_-]{1,255})(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!m)
    throw new InvalidConfigError(
      `a capacity provider is NAME[:WEIGHT[:BASE]], e.g. FARGATE_SPOT:3 or FARGATE:2:1 (got "${text}")`,
    );
  return CapacityProviderItemSchema.parse({
    capacityProvider: m[1],
    ...(m[2] !== undefined ? { weight: Number(m[2]) } : {}),
    ...(m[3] !== undefined ? { base: Number(m[3]) } : {}),
  });
}

/** Whether an ECS run config runs on Fargate: its launch type, or a strategy of Fargate providers. */
export function usesFargate(config: Pick<EcsRunConfig, "launchType" | "capacityProviderStrategy">): boolean {
  if (config.capacityProviderStrategy)
    return config.capacityProviderStrategy.every((p) => p.capacityProvider.startsWith("FARGATE"));
  return config.launchType === undefined || config.launchType === "FARGATE";
}

/** A Kubernetes resource quantity: `500m`, `2`, `1.5`, `512Mi`, `1Gi`, `1e3`. */
const QUANTITY = /^([+-]?[0-9.]+)([eE][-+]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantity = (what: string) =>
  z
    .string()
    .regex(
      QUANTITY,
      `${what} is a Kubernetes quantity, e.g. ${what.startsWith("cpu") ? '"500m" or "2"' : '"512Mi" or "2Gi"'}`,
    );
/** A DNS-1123 label: a namespace, a service account, a secret's name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Runs a flow as a Kubernetes Job (one pod, restartPolicy Never), started by the Kubernetes agent.
 * Resources are Kubernetes quantity strings (`"500m"`, `"1Gi"`); `jobTemplate` is a batch/v1 Job the
 * agent's fields go over (its first container runs the flow).
 */
export const KubernetesRunConfigSchema = z.strictObject({
  type: z.literal("kubernetes"),
  image: z.string().min(1).optional(),
  env: EnvSchema.optional(),
  cpuRequest: quantity("cpuRequest").optional(),
  cpuLimit: quantity("cpuLimit").optional(),
  memoryRequest: quantity("memoryRequest").optional(),
  memoryLimit: quantity("memoryLimit").optional(),
  namespace: z
    .string()
    .max(63)
    .regex(DNS_LABEL, "a namespace name: lowercase letters, digits and -")
    .optional(),
  serviceAccountName: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "a service account name")
    .optional(),
  imagePullSecrets: z.array(z.string().max(253).min(1)).optional(),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
  jobTemplate: z.record(z.string(), z.unknown()).optional(),
  labels: LabelsSchema,
});
export type KubernetesRunConfig = z.infer<typeof KubernetesRunConfigSchema>;

export const RunConfigSchema = z.discriminatedUnion("type", [
  LocalRunConfigSchema,
  DockerRunConfigSchema,
  EcsRunConfigSchema,
  KubernetesRunConfigSchema,
]);
export type RunConfig = z.infer<typeof RunConfigSchema>;

export const localRun = (options: Omit<LocalRunConfig, "type"> = {}): LocalRunConfig =>
  LocalRunConfigSchema.parse({ ...options, type: "local" });

export const dockerRun = (options: Omit<DockerRunConfig, "type"> = {}): DockerRunConfig =>
  DockerRunConfigSchema.parse({ ...options, type: "docker" });

export const ecsRun = (options: Omit<EcsRunConfig, "type"> = {}): EcsRunConfig =>
  EcsRunConfigSchema.parse({ ...options, type: "ecs" });

export const kubernetesRun = (options: Omit<KubernetesRunConfig, "type"> = {}): KubernetesRunConfig =>
  KubernetesRunConfigSchema.parse({ ...options, type: "kubernetes" });

/**
 * Per-run overrides merged over a flow version's default run config: scalar fields replace, `env` merges
 * key by key. The type of the config cannot change through an override.
 */
export function mergeRunConfig(base: RunConfig, override: Partial<RunConfig> | undefined): RunConfig {
  if (!override) return base;
  // The override's own fields as they are (an `env` that is not an object would vanish in the merge).
  RunConfigSchema.parse({ ...base, ...override, type: base.type });
  const merged = { ...base, ...override, type: base.type } as RunConfig;
  if (base.env || override.env) merged.env = { ...base.env, ...override.env };
  return RunConfigSchema.parse(merged);
}

/**
 * Fields a run's own override may not set, only the flow's registered run config: a run's creator (a
 * user key, or a run's token starting a child run) could otherwise mount the agent's files into a
 * container (`volumes: ["/:/host"]`), or give a task another IAM role, network, task definition or
 * RunTask input, or a Job another namespace, service account or template, than the flow was registered
 * with.
 */
export const NOT_PER_RUN: readonly string[] = [
  "volumes",
  "taskRoleArn",
  "executionRoleArn",
  "taskDefinition",
  "taskDefinitionArn",
  "taskDefinitionPath",
  "networkConfiguration",
  "repositoryCredentials",
  "logConfiguration",
  "runTaskKwargs",
  "namespace",
  "serviceAccountName",
  "jobTemplate",
];

/** InvalidConfigError naming the first field of NOT_PER_RUN that `override` sets. */
export function refuseNotPerRun(override: Record<string, unknown>): void {
  const field = NOT_PER_RUN.find((f) => override[f] !== undefined);
  if (field)
    throw new InvalidConfigError(
      `run_config.${field} is set with the flow's run config (when it is registered), not per run: a run's override could otherwise reach into the agent's machine or change what the task may do`,
      { field },
    );
}

/**
 * A run's run config override checked against its flow's run config (none: `{ type: "local" }`): an
 * object whose fields merge into a valid config. Throws InvalidConfigError naming each bad field.
 */
export function checkRunConfigOverride(base: unknown, override: unknown): RunConfig {
  if (typeof override !== "object" || override === null || Array.isArray(override))
    throw new InvalidConfigError('run_config must be an object, e.g. { "env": { "LOG_LEVEL": "debug" } }');
  refuseNotPerRun(override as Record<string, unknown>);
  const parsedBase = RunConfigSchema.safeParse(base ?? { type: "local" });
  // A flow's own config was checked when it was registered; one that no longer parses is not the run's fault.
  if (!parsedBase.success) return override as RunConfig;
  try {
    return mergeRunConfig(parsedBase.data, override as Partial<RunConfig>);
  } catch (error) {
    if (!(error instanceof z.ZodError)) throw error;
    const issues = error.issues.map((i) => `${i.path.map(String).join(".") || "run_config"}: ${i.message}`);
    throw new InvalidConfigError(`invalid run_config: ${issues.join("; ")}`, { issues });
  }
}

/**
 * A flow version's run config as registered: one with a `type` must be a valid run config of that type
 * (a Fargate size Fargate has, a volume with a container path…); one without is a partial config any
 * agent fills in. Throws InvalidConfigError naming each bad field.
 */
export function checkRegisteredRunConfig(runConfig: unknown): void {
  if (runConfig == null) return;
  if (typeof runConfig !== "object" || Array.isArray(runConfig))
    throw new InvalidConfigError('run_config must be an object, e.g. { "type": "docker", "memory": 1024 }');
  if (!("type" in runConfig)) return;
  const parsed = RunConfigSchema.safeParse(runConfig);
  if (parsed.success) return;
  const issues = parsed.error.issues.map(
    (i) => `${i.path.map(String).join(".") || "run_config"}: ${i.message}`,
  );
  throw new InvalidConfigError(`invalid run_config: ${issues.join("; ")}`, { issues });
}
