import { type Duration, InvalidUsageError, parseDuration, type RunStateType } from "@regent/core";
import { MAX_RESULT_BYTES } from "./flow-runs.js";
import { runScope } from "./internal/context.js";
import type { KeptResult } from "./types.js";

/** A task run of an earlier execution of the same flow run, as a restarted or resumed one finds it. */
export interface PriorTaskRun {
  readonly id: string;
  /** Its place in the flow run (`TaskRunInfo.runKey`): how the new execution finds it. */
  readonly runKey: string;
  readonly state: RunStateType;
  /** Its state version on the server: the next write follows it. */
  readonly version: number;
  /** Its result, when it was kept in the server's database. */
  readonly result?: KeptResult | null | undefined;
  /** Where its result storage put its result, when it did. */
  readonly resultRef?: string | null | undefined;
}

/**
 * The result as the server keeps it (`{ value }`, or `{}` for nothing returned), or undefined when it
 * cannot be kept there: not JSON, or more than 256 KB of it (a restart then runs the task again).
 */
export function keptResult(value: unknown): KeptResult | undefined {
  if (value === undefined) return {};
  try {
    const text = JSON.stringify(value, plainOnly);
    if (text === undefined || Buffer.byteLength(text) > MAX_RESULT_BYTES) return undefined;
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * Refuses what JSON would change on the way back (a function dropped, a Date or a Map turned into
 * something else): such a result is better run again than reused as a different value.
 */
function plainOnly(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === "function" || typeof raw === "symbol" || typeof raw === "bigint")
    throw new TypeError("not JSON");
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    const proto = Object.getPrototypeOf(raw);
    if (proto !== Object.prototype && proto !== null) throw new TypeError("not plain JSON");
  }
  return value;
}

export interface PauseOptions {
  /** Names the pause in the run's task runs (default "pause"): `approve-load`, `check-report`. */
  readonly name?: string;
  /** What the person resuming should check; shown with the Paused state. */
  readonly message?: string;
  /** Not resumed within this long, the flow run fails (default: it waits for as long as it takes). */
  readonly timeout?: Duration;
}

/**
 * Pauses the flow run until a person resumes it (`regent resume <id>`, the API's `resume_flow_run`, the
 * UI). Call it in the flow function, between tasks. Once the task runs already started have ended, the
 * run is Paused and its executor exits: nothing is held while it waits. Resumed, the run is started
 * again and the flow function runs from the top, the task runs that succeeded reusing their kept results
 * instead of running again, up to this pause, which then returns what the resume gave (`--input`, JSON).
 * Code between tasks runs again; keep side effects in tasks.
 *
 * ```ts
 * const rows = await extract();
 * await pause({ name: "approve-load", message: `load ${rows.length} rows?`, timeout: "1d" });
 * await load(rows);
 * ```
 */
export async function pause<T = unknown>(options: PauseOptions = {}): Promise<T | undefined> {
  const scope = runScope.getStore();
  if (!scope)
    throw new InvalidUsageError(
      "pause() is called in a flow function, between tasks; outside a flow run there is nothing to pause",
    );
  if (scope.logger !== scope.engine.logger || scope.engine.info.parentTaskRunId !== undefined)
    throw new InvalidUsageError(
      "pause() is called in a flow function between tasks, not inside a task or a subflow: a paused run stops and later starts its flow function again, which a task cannot do",
    );
  const name = options.name ?? "pause";
  if (!/^[\w.-]+$/.test(name))
    throw new InvalidUsageError(`pause(): name must be letters, digits, "_", "-" or "." (got "${name}")`);
  const timeoutMs =
    options.timeout === undefined ? undefined : parseDuration(options.timeout, `pause "${name}": timeout`);
  return scope.engine.pause(name, options.message, timeoutMs) as Promise<T | undefined>;
}
