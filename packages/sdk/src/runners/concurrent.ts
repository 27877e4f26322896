import { runScope } from "../internal/context.js";
import type { TaskContextImpl, TaskDefinition } from "../internal/engine.js";
import type { TaskRunner, TaskRunnerInstance } from "../internal/runner.js";
import { Semaphore } from "../internal/semaphore.js";

export interface ConcurrentTaskRunnerOptions {
  /** Task runs executing at once; the rest wait their turn. Default 100. */
  maxConcurrency?: number;
}

/**
 * The default runner: task functions run in the flow's own thread, interleaved at their awaits — right
 * for I/O-bound work. For CPU-bound work use `workerPoolTaskRunner`.
 */
export function concurrentTaskRunner(options: ConcurrentTaskRunnerOptions = {}): TaskRunner {
  const size = options.maxConcurrency ?? 100;
  new Semaphore(size); // validates the option where it is given
  return {
    kind: "concurrent",
    start(): TaskRunnerInstance {
      const slots = new Semaphore(size);
      return {
        concurrency: size,
        acquire: () => slots.acquire(),
        release: () => slots.release(),
        run: (def: TaskDefinition, input: unknown, ctx: TaskContextImpl) =>
          runScope.run({ engine: ctx.engine, logger: ctx.log }, def.fn, input as never, ctx),
        close: async () => {},
      };
    },
  };
}
