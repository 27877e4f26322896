import { z } from "zod";
import { InvalidConfigError } from "./errors.js";

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

/** Discriminated by `type`; kubernetes and ecs join with their issues. */
export const RunConfigSchema = z.discriminatedUnion("type", [LocalRunConfigSchema, DockerRunConfigSchema]);
export type RunConfig = z.infer<typeof RunConfigSchema>;

export const localRun = (options: Omit<LocalRunConfig, "type"> = {}): LocalRunConfig =>
  LocalRunConfigSchema.parse({ ...options, type: "local" });

export const dockerRun = (options: Omit<DockerRunConfig, "type"> = {}): DockerRunConfig =>
  DockerRunConfigSchema.parse({ ...options, type: "docker" });

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
 * container (`volumes: ["/:/host"]`).
 */
export const NOT_PER_RUN: readonly string[] = ["volumes"];

/** InvalidConfigError naming the first field of NOT_PER_RUN that `override` sets. */
export function refuseNotPerRun(override: Record<string, unknown>): void {
  const field = NOT_PER_RUN.find((f) => override[f] !== undefined);
  if (field)
    throw new InvalidConfigError(
      `run_config.${field} is set with the flow's run config (when it is registered), not per run: a run's override could otherwise reach into the agent's machine`,
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
