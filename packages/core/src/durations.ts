import ms from "ms";
import { InvalidConfigError } from "./errors.js";

/** A duration written as `"500ms"`, `"5s"`, `"1m"`, `"2h"`, `"1d"`, or a number of milliseconds. */
export type Duration = string | number;

/** Milliseconds of a duration; throws a clear error for anything else. */
export function parseDuration(value: Duration, what = "duration"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    let parsed: number | undefined;
    try {
      parsed = ms(value as ms.StringValue) as number | undefined;
    } catch {
      // ms throws a plain Error for "" and for non-strings (e.g. null from a config file); reported below.
    }
    if (typeof parsed === "number" && Number.isFinite(parsed) && parsed >= 0) return parsed;
  }
  throw new InvalidConfigError(
    `${what} must be a non-negative number of milliseconds or a string like "500ms", "5s", "1m", "2h" (got ${JSON.stringify(value)})`,
    { what, value },
  );
}
