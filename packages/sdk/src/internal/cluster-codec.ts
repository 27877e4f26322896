// What crosses the cluster runner's queue between the flow process and its workers: a task's input and
// its outcome, as text the server keeps without reading. devalue keeps what JSON would change or drop
// (Date, Map, Set, BigInt, undefined, cycles) and refuses what no other process could rebuild (functions,
// class instances), naming where it is.
import { NotSerializableError, RegentError, type SerializedError, serializeError } from "@regent/core";
import { DevalueError, parse, stringify } from "devalue";
import { maskDeep } from "../secrets.js";
import { reviveError } from "./revive-error.js";

/** A job's payload: the task's input and the parts of its context a worker rebuilds. */
export interface JobPayload {
  readonly input: unknown;
  readonly taskRunId: string;
  readonly taskName: string;
  readonly attempt: number;
  readonly mapIndex: number;
  readonly tags: readonly string[];
  /** The task's timeout: the worker aborts ctx.signal then too (the flow process gives up at the same time). */
  readonly timeoutMs: number | undefined;
}

/** How a job ended, as the worker reports it. */
export type JobOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

/** An outcome as the flow process reads it: the value or the error to throw, and the worker's task time. */
export type ReadOutcome = (
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: Error }
) & {
  /** The worker's moving average of its task runs' durations (ms), when it sent one. */
  readonly ms?: number | undefined;
};

/**
 * The error for `what` (`the input of task "fetch"`) that devalue refused: where in it (`input.conn`),
 * what the value is (`a function`), and what may cross instead. `root` renames devalue's path root.
 */
function refusal(what: string, error: unknown, root: [from: string, to: string]): RegentError {
  if (!(error instanceof DevalueError)) return new NotSerializableError(what, error);
  const path = error.path.startsWith(root[0]) ? root[1] + error.path.slice(root[0].length) : error.path;
  return new RegentError(
    "NOT_SERIALIZABLE",
    `${what} cannot be serialised: ${path || root[1]} is ${describeValue(error.value)}. A cluster worker runs in another process, so inputs and results must be data: plain objects and arrays, strings, numbers, booleans, null, Date, Map, Set, BigInt`,
    { details: { path } },
  );
}

function describeValue(value: unknown): string {
  if (typeof value === "function") return value.name ? `a function (${value.name})` : "a function";
  if (typeof value === "symbol") return "a symbol";
  const name = (value as object | null)?.constructor?.name;
  return name ? `an instance of ${name} (not a plain object)` : "not plain data";
}

export function encodePayload(payload: JobPayload): string {
  try {
    return stringify(payload);
  } catch (error) {
    throw refusal(`the input of task "${payload.taskName}"`, error, [".input", "input"]);
  }
}

export function decodePayload(text: string): JobPayload {
  return parse(text) as JobPayload;
}

/** The outcome's text; a result that cannot be serialised becomes a failure that says so. */
export function encodeOutcome(taskName: string, outcome: JobOutcome, ms: number | undefined): string {
  if (!outcome.ok) {
    const error = maskDeep(outcome.error);
    try {
      return stringify({ ok: false, error, ms });
    } catch {
      // An error whose details hold something devalue refuses (a Buffer, a class instance): without them.
      const { details: _details, cause: _cause, ...plain } = error;
      return stringify({ ok: false, error: plain, ms });
    }
  }
  try {
    return stringify({ ...outcome, ms });
  } catch (error) {
    const refused = refusal(`the result of task "${taskName}"`, error, [".value", "the result"]);
    return stringify({ ok: false, error: serializeError(refused), ms });
  }
}

/** The value, or the task's error as the engine classifies it (retriable or not, skip…). */
export function decodeOutcome(text: string): ReadOutcome {
  let outcome: JobOutcome & { ms?: number };
  try {
    outcome = parse(text) as JobOutcome & { ms?: number };
  } catch (error) {
    const why = `a cluster worker sent a result that could not be read: ${(error as Error).message}`;
    return { ok: false, error: new RegentError("TASK_FAILED", why) };
  }
  if (outcome.ok) return outcome;
  return { ok: false, error: reviveError(outcome.error), ms: outcome.ms };
}
