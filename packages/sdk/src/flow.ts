import {
  type Duration,
  type FlowConcurrency,
  InvalidConfigError,
  InvalidUsageError,
  type JsonSchema,
  type ParamsSchema,
  paramsJsonSchema,
  parseDuration,
  type RunConfig,
  RunConfigSchema,
  type ScheduleInput,
  type Storage,
  StorageSchema,
} from "@regent/core";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { FlowContext, TaskContext } from "./context.js";
import { TaskFuture } from "./future.js";
import type { StateHooks } from "./hooks.js";
import { runScope } from "./internal/context.js";
import { builtInTask, type TaskContextImpl, type TaskDefinition } from "./internal/engine.js";
import type { FlowRunResult } from "./internal/run-flow.js";
import { type RunFlowOptions, runFlow } from "./internal/run-flow.js";
import type { TaskRunner } from "./internal/runner.js";
import type { ResultStorage } from "./results.js";

export interface FlowOptions<S extends ParamsSchema | undefined, R = unknown>
  extends StateHooks<FlowContext, R> {
  /** The flow's name: how it is registered, listed and run. */
  name: string;
  description?: string;
  /** A Standard Schema validator (zod, valibot, arktype…) of the parameters; defaults apply. */
  params?: S;
  /** Agents must carry every label to run this flow (DESIGN §3). */
  labels?: string[];
  runConfig?: RunConfig;
  storage?: Storage;
  /** How task functions execute: `concurrentTaskRunner()` (default) or `workerPoolTaskRunner()`. */
  taskRunner?: TaskRunner;
  /** Where task results are persisted (and cached across processes); default: memory only. */
  resultStorage?: ResultStorage;
  /** The whole run is cancelled (Cancelled, reason: timeout) after this long. */
  timeout?: Duration;
  /**
   * When the server starts runs of this flow on its own: `cron(…)`, `interval(…)`, `rrule(…)`, or a list
   * of them (each clock with its own parameter values and labels). Checked by `regent register`.
   */
  schedule?: ScheduleInput;
  /**
   * At most `limit` runs of this flow at once on the server, or with `key` (a parameter name) at most
   * `limit` per value of that parameter: `{ limit: 1, key: "customerId" }`. Runs over it wait Queued.
   */
  concurrency?: FlowConcurrency;
  /**
   * Times the server reschedules a run of this flow whose infrastructure died (its process killed, its
   * container OOM-killed, its heartbeat lost) before failing it: Lazarus. Default: the server's
   * `max_restarts` (3); 0 fails such a run at once.
   */
  maxRestarts?: number;
}

type Input<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : Record<string, never>;
type Output<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : Record<string, never>;
type ParamArgs<S> = Record<string, never> extends Input<S> ? [params?: Input<S>] : [params: Input<S>];

export interface Flow<S extends ParamsSchema | undefined, R> {
  /** Inside another flow: runs this one as a subflow and returns its result's future. */
  (...args: ParamArgs<S>): TaskFuture<R>;
  /** Runs the flow here and now; resolves when it is final (never rejects for a failed run). */
  run(...args: [...ParamArgs<S>, options?: RunFlowOptions]): Promise<FlowRunResult<R>>;
  readonly name: string;
  readonly options: Readonly<FlowOptions<S>>;
  /** JSON Schema of the parameters' input, when the validator can produce one. */
  readonly paramsJsonSchema: JsonSchema | undefined;
  /** @internal */
  readonly fn: (params: Output<S>, ctx: FlowContext) => R | Promise<R>;
}

const FLOW = Symbol.for("regent.flow");

export const isFlow = (value: unknown): value is Flow<ParamsSchema | undefined, unknown> =>
  typeof value === "function" && (value as unknown as Record<symbol, unknown>)[FLOW] === true;

/**
 * Defines a flow: typed parameters and a function that calls tasks.
 *
 * ```ts
 * export default flow({ name: "hello", params: z.object({ name: z.string().default("world") }) },
 *   async ({ name }) => { await sayHello(name); });
 * ```
 */
export function flow<S extends ParamsSchema | undefined = undefined, R = void>(
  options: FlowOptions<S, NoInfer<Awaited<R>>>,
  fn: (params: Output<S>, ctx: FlowContext) => R | Promise<R>,
): Flow<S, Awaited<R>> {
  if (!options || typeof options.name !== "string" || options.name.trim() === "") {
    throw new InvalidConfigError('flow() needs a name: flow({ name: "my-flow" }, fn)');
  }
  if (typeof fn !== "function") throw new InvalidConfigError(`flow "${options.name}" needs a function`);
  const name = options.name;
  if (
    options.params !== undefined &&
    typeof (options.params as { "~standard"?: unknown })["~standard"] !== "object"
  ) {
    throw new InvalidConfigError(
      `flow "${name}": params must be a Standard Schema validator such as z.object({...})`,
    );
  }
  const checked = <T>(what: string, parse: () => T) => {
    try {
      return parse();
    } catch (error) {
      throw new InvalidConfigError(`flow "${name}": invalid ${what}: ${(error as Error).message}`);
    }
  };
  if (options.runConfig) checked("runConfig", () => RunConfigSchema.parse(options.runConfig));
  if (options.storage) checked("storage", () => StorageSchema.parse(options.storage));
  const max = options.maxRestarts;
  if (max !== undefined && (!Number.isInteger(max) || max < 0 || max > 100))
    throw new InvalidConfigError(
      `flow "${name}": maxRestarts must be a whole number from 0 to 100 (got ${max})`,
    );
  const timeoutMs =
    options.timeout === undefined ? undefined : parseDuration(options.timeout, `flow "${name}": timeout`);
  const jsonSchema = paramsJsonSchema(options.params);

  let subflowTask: TaskDefinition | undefined;
  const self = ((params?: unknown) => {
    const scope = runScope.getStore();
    if (!scope) {
      throw new InvalidUsageError(
        `flow "${name}" was called like a task outside a flow run; use ${name}.run(params)`,
      );
    }
    subflowTask ??= builtInTask(name, `subflow:${name}`, (async (p: unknown, taskCtx: TaskContext) => {
      const ctx = taskCtx as TaskContextImpl;
      const parent = ctx.engine.resume;
      const result = await runFlow(self as never, (p ?? {}) as Record<string, unknown>, {
        // The calling run's engine, not the first run's: this definition is made once per flow.
        reporter: ctx.engine.reporter,
        parentTaskRunId: ctx.taskRunId,
        signal: ctx.signal,
        // Its task runs live in the parent's flow run: their run keys say under which subflow call.
        subflowResume: { ...parent, keyPrefix: `${ctx.run.info.runKey}/` },
      });
      if (result.state.type !== "Success")
        throw result.error ?? new Error(`subflow ${name} ended ${result.state.type}`);
      return result.result;
    }) as TaskDefinition["fn"]);
    return new TaskFuture(scope.engine.call(subflowTask, params ?? {}));
  }) as unknown as Flow<S, Awaited<R>>;

  Object.defineProperties(self, {
    name: { value: name },
    options: { value: Object.freeze({ ...options }) },
    paramsJsonSchema: { value: jsonSchema },
    fn: { value: fn },
    timeoutMs: { value: timeoutMs },
    [FLOW]: { value: true },
    run: {
      value: (params?: Record<string, unknown>, runOptions?: RunFlowOptions) =>
        runFlow(self as never, params ?? {}, runOptions),
    },
  });
  return self;
}
