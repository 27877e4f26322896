import { abortableSleep } from "./abortable-sleep.js";

/** Error codes of a server that may answer again (unreachable, database down): worth retrying. */
export const RETRYABLE = new Set(["SERVER_UNREACHABLE", "DATABASE_UNAVAILABLE", "API_ERROR"]);

/**
 * Whether a request may succeed if sent again: a server that could not answer, not one that refused the
 * request itself (a query it does not know — an older server — is an API_ERROR too, but final).
 */
export function retryable(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? "";
  if (!RETRYABLE.has(code)) return false;
  return (error as { apiCode?: string }).apiCode !== "GRAPHQL_VALIDATION_FAILED";
}

export interface UntilServerAnswersOptions {
  /** Told of each retry: the error, the wait before the next try, and the try that failed (1, 2, …). */
  readonly onRetry?: (error: Error, delayMs: number, attempt: number) => void;
  /** Aborting it ends the wait between tries (the call rejects with its reason). */
  readonly signal?: AbortSignal | undefined;
  /** True once retrying should end: the last error is thrown. */
  readonly giveUp?: () => boolean;
}

/**
 * `call`'s answer, asked again while the server cannot answer (unreachable, restarting, its database
 * down) with a backoff from 100 ms doubling to 5 s; an error the server means (or any, once `giveUp`
 * says so) is thrown.
 */
export async function untilServerAnswers<T>(
  call: () => Promise<T>,
  options: UntilServerAnswersOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!retryable(error) || options.giveUp?.()) throw error;
      const delay = Math.min(100 * 2 ** (attempt - 1), 5_000);
      options.onRetry?.(error as Error, delay, attempt);
      await abortableSleep(delay, options.signal);
    }
  }
}
