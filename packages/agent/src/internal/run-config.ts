import {
  InvalidConfigError,
  type LocalRunConfig,
  mergeRunConfig,
  type RunConfig,
  RunConfigSchema,
  refuseNotPerRun,
} from "@regent/core";

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The run config an agent of `type` launches with: the flow version's (`flow.run_config`, default
 * `{ type }`) with the run's own override merged over it (core's `mergeRunConfig`: fields replace, `env`
 * merges key by key). Throws InvalidConfigError, naming the problem, for a config of another type or one
 * that does not parse.
 */
export function runConfigFor<T extends RunConfig["type"]>(
  type: T,
  runConfig: unknown,
  flowRunConfig: unknown,
): Extract<RunConfig, { type: T }> {
  if (flowRunConfig != null && !isObject(flowRunConfig))
    throw new InvalidConfigError("the flow's run_config is not an object");
  if (runConfig != null && !isObject(runConfig))
    throw new InvalidConfigError("the flow run's run_config is not an object");
  const base = { type, ...flowRunConfig };
  if (base.type !== type)
    throw new InvalidConfigError(
      `the flow's run config is of type ${JSON.stringify(base.type)}; a ${type} agent runs only "${type}" ones (give the run other labels, or an agent of that type)`,
      { type: base.type },
    );
  const parsed = RunConfigSchema.safeParse(base);
  if (!parsed.success) throw invalid(type, "the flow's run_config", parsed.error.issues);
  const { type: _type, ...override } = runConfig ?? {};
  refuseNotPerRun(override);
  try {
    return mergeRunConfig(parsed.data, override as Partial<RunConfig>) as Extract<RunConfig, { type: T }>;
  } catch (error) {
    const issues = (error as { issues?: readonly Issue[] }).issues;
    if (issues) throw invalid(type, "the flow run's run_config", issues);
    throw error;
  }
}

/** The run config a local agent launches with (see runConfigFor). */
export const localRunConfig = (runConfig: unknown, flowRunConfig: unknown): LocalRunConfig =>
  runConfigFor("local", runConfig, flowRunConfig);

interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

const invalid = (type: string, what: string, issues: readonly Issue[]) =>
  new InvalidConfigError(
    `${what} is not a valid ${type} run config: ${issues
      .map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
      .join("; ")}`,
    { issues: issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
  );
