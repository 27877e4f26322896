import { isFailureLike, isSuccessLike } from "@regent/core";
import type { EngineState, Logger } from "./types.js";

/**
 * Functions called as a run changes state: every state (`onStateChange`), a success-like end
 * (`onSuccess`, with the result), a failure-like end (`onFailure`: Failed, TimedOut, TriggerFailed, with
 * the error). A hook that throws is logged as a warning; it never changes the run's outcome. The run (and
 * the flow run a task belongs to) ends only after its hooks have finished.
 */
export interface StateHooks<C, R> {
  onStateChange?: (state: EngineState, ctx: C) => void | Promise<void>;
  onSuccess?: (result: R, ctx: C) => void | Promise<void>;
  onFailure?: (error: unknown, state: EngineState, ctx: C) => void | Promise<void>;
}

/** What a task's hooks are given: where the run is, and its logger. */
export interface TaskHookContext {
  readonly taskRunId: string;
  readonly flowRunId: string;
  readonly taskName: string;
  readonly mapIndex: number;
  readonly tags: readonly string[];
  readonly log: Logger;
}

export const hasHooks = (hooks: StateHooks<never, never>): boolean =>
  Boolean(hooks.onStateChange || hooks.onSuccess || hooks.onFailure);

/**
 * Calls the hooks a state calls for; returns a promise when one is under way (undefined when none is
 * called). Errors are logged on `log` as warnings, naming `what` ran the hook.
 */
export function callHooks<C, R>(
  hooks: StateHooks<C, R>,
  state: EngineState,
  ctx: C,
  outcome: () => { result: R; error: unknown },
  log: Logger,
  what: string,
): Promise<void> | undefined {
  const calls: [string, () => void | Promise<void>][] = [];
  if (hooks.onStateChange) calls.push(["onStateChange", () => hooks.onStateChange!(state, ctx)]);
  if (hooks.onSuccess && isSuccessLike(state.type))
    calls.push(["onSuccess", () => hooks.onSuccess!(outcome().result, ctx)]);
  if (hooks.onFailure && isFailureLike(state.type))
    calls.push(["onFailure", () => hooks.onFailure!(outcome().error, state, ctx)]);
  if (calls.length === 0) return undefined;
  return (async () => {
    // After the caller's turn: a final state is recorded just before the run settles with its outcome.
    await Promise.resolve();
    for (const [name, call] of calls) {
      try {
        await call();
      } catch (error) {
        log.warn(`${name} hook of ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
}
