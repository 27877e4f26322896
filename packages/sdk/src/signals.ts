import { type Duration, parseDuration, RegentError } from "@regent/core";

/** Thrown by `skip()`: the task run ends Skipped (and, by default, so do the tasks downstream of it). */
export class SkipSignal extends Error {
  constructor(message = "skipped") {
    super(message);
    this.name = "SkipSignal";
  }
}

/** Thrown by `fail()`: the task run fails with this message; retries apply. */
export class FailSignal extends RegentError {
  constructor(message: string) {
    super("TASK_FAILED", message);
  }
}

/** A failure that retrying cannot fix (bad input, missing permission): the task fails without retries. */
export class NonRetriableError extends RegentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NON_RETRIABLE", message, options);
  }
}

/** A failure worth retrying after a given delay (e.g. a rate limit's Retry-After), overriding `retryDelay`. */
export class RetryAfterError extends RegentError {
  readonly delayMs: number;
  constructor(message: string, delay: Duration, options?: { cause?: unknown }) {
    const delayMs = parseDuration(delay, "RetryAfterError delay");
    super("TASK_FAILED", message, { ...options, details: { delayMs } });
    this.delayMs = delayMs;
  }
}

/** End the current task run as Skipped. */
export function skip(message?: string): never {
  throw new SkipSignal(message);
}

/** End the current task run as Failed with `message` (retries apply). */
export function fail(message: string): never {
  throw new FailSignal(message);
}
