import { describe, expect, test } from "vitest";
import { type Duration, parseDuration } from "./durations.js";
import { InvalidConfigError } from "./errors.js";

describe("parseDuration", () => {
  test.for([
    { value: "500ms", want: 500 },
    { value: "5s", want: 5_000 },
    { value: "1.5s", want: 1_500 },
    { value: "1m", want: 60_000 },
    { value: "2h", want: 7_200_000 },
    { value: "1d", want: 86_400_000 },
    { value: "0s", want: 0 },
    { value: "10 seconds", want: 10_000 },
    { value: "3 minutes", want: 180_000 },
    { value: "250", want: 250 },
    { value: 0, want: 0 },
    { value: 1, want: 1 },
    { value: 1_500, want: 1_500 },
    { value: 0.5, want: 0.5 },
  ] satisfies { value: Duration; want: number }[])("$value → $want ms", ({ value, want }) => {
    expect(parseDuration(value)).toBe(want);
  });

  test.for([
    { name: "an empty string", value: "" },
    { name: "a blank string", value: " " },
    { name: "a word", value: "soon" },
    { name: "an unknown unit", value: "5 fortnights" },
    { name: "a unit without a number", value: "ms" },
    { name: "a leading space", value: " 5s" },
    { name: "two durations", value: "1h 30m" },
    { name: "a negative string", value: "-5s" },
    { name: "a negative bare string", value: "-1" },
    { name: "a string longer than 100 characters", value: `${"1".repeat(101)}ms` },
    { name: "a negative number", value: -1 },
    { name: "negative zero point five", value: -0.5 },
    { name: "NaN", value: Number.NaN },
    { name: "Infinity", value: Number.POSITIVE_INFINITY },
    { name: "-Infinity", value: Number.NEGATIVE_INFINITY },
  ] satisfies { name: string; value: Duration }[])("rejects $name", ({ value }) => {
    let error: unknown;
    try {
      parseDuration(value, "retryDelay");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    const e = error as InvalidConfigError;
    expect(e.code).toBe("INVALID_CONFIG");
    expect(e.name).toBe("InvalidConfigError");
    expect(e.message).toMatch(
      /^retryDelay must be a non-negative number of milliseconds or a string like "500ms"/,
    );
    expect(e.details).toEqual({ what: "retryDelay", value });
  });

  test.for([
    { name: "null", value: null },
    { name: "undefined", value: undefined },
    { name: "an object", value: {} },
    { name: "an array", value: ["5s"] },
    { name: "a boolean", value: true },
  ])("rejects $name where a duration was expected (e.g. from JSON config)", ({ value }) => {
    expect(() => parseDuration(value as unknown as Duration)).toThrow(InvalidConfigError);
  });

  test("names the value in the message, with a default label", () => {
    expect(() => parseDuration("soon")).toThrow(
      'duration must be a non-negative number of milliseconds or a string like "500ms", "5s", "1m", "2h" (got "soon")',
    );
  });
});
