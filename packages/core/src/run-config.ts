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

/** Discriminated by `type`; docker, kubernetes and ecs join with their issues. */
export const RunConfigSchema = z.discriminatedUnion("type", [LocalRunConfigSchema]);
export type RunConfig = z.infer<typeof RunConfigSchema>;

export const localRun = (options: Omit<LocalRunConfig, "type"> = {}): LocalRunConfig =>
  LocalRunConfigSchema.parse({ ...options, type: "local" });

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
 * A run's run config override checked against its flow's run config (none: `{ type: "local" }`): an
 * object whose fields merge into a valid config. Throws InvalidConfigError naming each bad field.
 */
export function checkRunConfigOverride(base: unknown, override: unknown): RunConfig {
  if (typeof override !== "object" || override === null || Array.isArray(override))
    throw new InvalidConfigError('run_config must be an object, e.g. { "env": { "LOG_LEVEL": "debug" } }');
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
