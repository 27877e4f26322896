import {
  ERROR_CODES,
  type ErrorCode,
  RegentError,
  type SerializedError,
  TaskTimeoutError,
} from "@regent/core";
import { NonRetriableError, RetryAfterError, SkipSignal } from "../signals.js";

/** Turns an error that crossed a thread or process boundary back into one the engine can classify. */
export function reviveError(s: SerializedError): Error {
  let error: Error;
  if (s.name === "SkipSignal") error = new SkipSignal(s.message);
  else if (s.code === "NON_RETRIABLE") error = new NonRetriableError(s.message);
  else if (s.name === "RetryAfterError" && typeof s.details?.delayMs === "number") {
    error = new RetryAfterError(s.message, s.details.delayMs);
  } else if (s.code === "TASK_TIMED_OUT" && typeof s.details?.timeoutMs === "number") {
    // A timeout a worker enforced: the engine records TimedOut for it, as for its own.
    error = new TaskTimeoutError(String(s.details.taskName ?? ""), s.details.timeoutMs);
  } else if (s.code in ERROR_CODES) {
    error = new RegentError(s.code as ErrorCode, s.message, s.details ? { details: s.details } : undefined);
  } else error = new Error(s.message);
  error.name = s.name;
  if (s.stack) error.stack = s.stack;
  if (s.cause) error.cause = reviveError(s.cause);
  return error;
}
