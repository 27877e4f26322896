import {
  type Duration,
  InvalidConfigError,
  InvalidUsageError,
  parseDuration,
  TRIGGERS,
  type Trigger,
} from "@regent/core";
import type { TaskContext } from "./context.js";
import { TaskFuture, type Unmapped } from "./future.js";
import type { StateHooks, TaskHookContext } from "./hooks.js";
import { runScope } from "./internal/context.js";
import type { TaskDefinition } from "./internal/engine.js";
import { callerModuleUrl, registerTask } from "./internal/registry.js";

export interface TaskOptions<I, R = unknown> extends StateHooks<TaskHookContext, R> {
  /** Shown in logs and the UI; tasks are found by name in pool workers. */
  name: string;
  /** Extra attempts after a failure (default 0). */
  retries?: number;
  /** Wait before the first retry (default "0s"). */
  retryDelay?: Duration;
  /** Each further retry waits this many times longer (default 1: a fixed delay; 2 doubles it). */
  retryBackoff?: number;
  /** Upper bound of the retry wait (default "1h"). */
  maxRetryDelay?: Duration;
  /** An attempt running longer fails TimedOut (retries apply); `ctx.signal` is aborted. */
  timeout?: Duration;
  /** Same key (within `cacheExpiry`) → the cached result is used and the run ends Cached. */
  cacheKey?: (input: I, ctx: TaskContext) => string | undefined;
  cacheExpiry?: Duration;
  /** When to run, given the upstream task runs' final states (default "allSuccessful"). */
  trigger?: Trigger;
  /** A Skipped upstream skips this task too (default true). */
  skipOnUpstreamSkip?: boolean;
  tags?: string[];
  /** Write the result to the flow's result storage (default: yes, when the flow has one). */
  persistResult?: boolean;
}

/** An input, where any value may also be the future of a task run (an edge of the flow's graph). */
export type TaskInput<I> =
  | I
  | TaskFuture<I>
  | (I extends readonly unknown[]
      ? never
      : I extends object
        ? { [K in keyof I]: I[K] | TaskFuture<I[K]> }
        : never);

/** What `task.map()` takes: a list (or its future), or an object whose values are lists or `unmapped()`. */
export type MapInput<I> =
  | ReadonlyArray<I | TaskFuture<I>>
  | TaskFuture<readonly I[]>
  | TaskFuture<I[]>
  | (I extends readonly unknown[]
      ? never
      : I extends object
        ? {
            [K in keyof I]:
              | ReadonlyArray<I[K]>
              | TaskFuture<readonly I[K][]>
              | TaskFuture<I[K][]>
              | Unmapped<I[K]>;
          }
        : never);

type CallArgs<I> = undefined extends I ? [input?: TaskInput<I>] : [input: TaskInput<I>];

export interface Task<I, R> {
  /** Starts a task run; await the future for its result, or pass it into another task. */
  (...args: CallArgs<I>): TaskFuture<R>;
  /** The same as calling the task: starts it and returns its future without waiting. */
  submit(...args: CallArgs<I>): TaskFuture<R>;
  /** One task run per item (a mapped child with its map index); the future gives the results in order. */
  map(items: MapInput<I>): TaskFuture<R[]>;
  readonly name: string;
  /** The function itself, to call directly in unit tests. */
  readonly fn: (input: I, ctx: TaskContext) => R | Promise<R>;
  /** @internal */
  readonly definition: TaskDefinition;
}

function engineOrThrow(name: string) {
  const scope = runScope.getStore();
  if (!scope) {
    throw new InvalidUsageError(
      `task "${name}" was called outside a flow run: call it inside a flow's function, or call ${name}.fn(input, ctx) directly in a unit test`,
    );
  }
  return scope.engine;
}

const count = (value: number | undefined, what: string, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new InvalidConfigError(`${what} must be a number ≥ 0 (got ${value})`);
  return value;
};

/**
 * Defines a task: a function that becomes a task run each time it is called inside a flow, with its own
 * states, retries, timeout, cache and logs.
 *
 * ```ts
 * const hello = task({ name: "say-hello", retries: 2, retryDelay: "5s" }, async (name: string, ctx) => {
 *   ctx.log.info(`Hello, ${name}!`);
 *   return name.length;
 * });
 * ```
 */
export function task<I = undefined, R = unknown>(
  options: TaskOptions<I, NoInfer<Awaited<R>>>,
  fn: (input: I, ctx: TaskContext) => R | Promise<R>,
): Task<I, Awaited<R>> {
  if (!options || typeof options.name !== "string" || options.name.trim() === "") {
    throw new InvalidConfigError('task() needs a name: task({ name: "my-task" }, fn)');
  }
  if (typeof fn !== "function") throw new InvalidConfigError(`task "${options.name}" needs a function`);
  if (options.trigger !== undefined && !TRIGGERS.includes(options.trigger)) {
    throw new InvalidConfigError(
      `task "${options.name}": trigger must be one of ${TRIGGERS.join(", ")} (got ${options.trigger})`,
    );
  }
  const name = options.name;
  const location = registerTask(callerModuleUrl(task), name, { fn });
  const definition: TaskDefinition = {
    name,
    key: location.ordinal === 0 ? name : `${name}-${location.ordinal + 1}`,
    moduleUrl: location.moduleUrl,
    ordinal: location.ordinal,
    fn: fn as TaskDefinition["fn"],
    retries: Math.floor(count(options.retries, `task "${name}": retries`, 0)),
    retryDelayMs:
      options.retryDelay === undefined ? 0 : parseDuration(options.retryDelay, `task "${name}": retryDelay`),
    retryBackoff: count(options.retryBackoff, `task "${name}": retryBackoff`, 1),
    maxRetryDelayMs:
      options.maxRetryDelay === undefined
        ? 3_600_000
        : parseDuration(options.maxRetryDelay, `task "${name}": maxRetryDelay`),
    timeoutMs:
      options.timeout === undefined ? undefined : parseDuration(options.timeout, `task "${name}": timeout`),
    cacheKey: options.cacheKey as TaskDefinition["cacheKey"],
    cacheExpiryMs:
      options.cacheExpiry === undefined
        ? undefined
        : parseDuration(options.cacheExpiry, `task "${name}": cacheExpiry`),
    trigger: options.trigger ?? "allSuccessful",
    skipOnUpstreamSkip: options.skipOnUpstreamSkip ?? true,
    tags: Object.freeze([...(options.tags ?? [])]),
    persistResult: options.persistResult,
    hooks:
      options.onStateChange || options.onSuccess || options.onFailure
        ? {
            onStateChange: options.onStateChange,
            onSuccess: options.onSuccess as StateHooks<TaskHookContext, unknown>["onSuccess"],
            onFailure: options.onFailure,
          }
        : undefined,
  };
  const call = (input?: unknown) => new TaskFuture<Awaited<R>>(engineOrThrow(name).call(definition, input));
  const handle = Object.assign(call, {
    submit: call,
    map: (items: unknown) => new TaskFuture<Awaited<R>[]>(engineOrThrow(name).map(definition, items)),
    fn,
    definition,
  }) as unknown as Task<I, Awaited<R>>;
  Object.defineProperty(handle, "name", { value: name });
  return handle;
}
