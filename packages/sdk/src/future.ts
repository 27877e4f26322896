import { CancelledError, RegentError, TriggerFailedError } from "@regent/core";
import type { TaskRunState } from "./internal/task-run.js";

/**
 * The handle of a task run. Await it for the result (a failed run rejects with its error); pass it into
 * another task to make an edge: the downstream task waits for it and receives its result.
 */
export class TaskFuture<T> implements PromiseLike<T> {
  /** @internal */
  readonly run: TaskRunState;

  /** @internal */
  constructor(run: TaskRunState) {
    this.run = run;
  }

  get taskRunId(): string {
    return this.run.info.id;
  }

  // biome-ignore lint/suspicious/noThenProperty: a future is deliberately awaitable.
  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.run.consumed = true;
    return this.result().then(onfulfilled, onrejected);
  }

  /** The result once the task run is final; rejects with its error when it failed. */
  async result(): Promise<T> {
    const run = this.run;
    if (!run.settled) await run.whenSettled();
    if (run.failed) throw failureOf(run);
    if (run.outcome === "Cancelled")
      throw run.error ?? new CancelledError(`task run ${run.label} was cancelled`);
    return run.value as T;
  }
}

export function failureOf(run: TaskRunState): unknown {
  if (run.error !== undefined) return run.error;
  if (run.outcome === "TriggerFailed") return new TriggerFailedError(run.label, "upstream", []);
  return new RegentError("TASK_FAILED", `task run ${run.label} ended ${run.outcome}`);
}

/** Wraps a value passed to `task.map` that every mapped child receives whole, instead of one item. */
export class Unmapped<T> {
  constructor(readonly value: T | TaskFuture<T>) {}
}

export const unmapped = <T>(value: T | TaskFuture<T>): Unmapped<T> => new Unmapped(value);
