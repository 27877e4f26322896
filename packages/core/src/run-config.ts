import { z } from "zod";

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
  const merged = { ...base, ...override, type: base.type } as RunConfig;
  if (base.env || override.env) merged.env = { ...base.env, ...override.env };
  return RunConfigSchema.parse(merged);
}
