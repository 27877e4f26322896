import { describe, expect, it } from "vitest";
import { toIsoTimestamp } from "../src/db/codec.js";

describe("toIsoTimestamp", () => {
  it.each([
    ["2026-11-27T23:08:24.123Z", "2026-11-27T23:08:24.123Z"], // normal form, kept
    ["2026-02-28T00:00:00.000Z", "2026-02-28T00:00:00.000Z"],
    ["2026-02-30T10:00:00.000Z", "2026-03-02T10:00:00.000Z"], // a day past the month's end rolls over
    ["2026-04-31T10:00:00.000Z", "2026-05-01T10:00:00.000Z"],
    ["2026-11-27T23:08:24Z", "2026-11-27T23:08:24.000Z"],
    ["2026-11-27T23:08:24.5+01:00", "2026-11-27T22:08:24.500Z"],
    ["2026-11-27", "2026-11-27T00:00:00.000Z"],
    [0, "1970-01-01T00:00:00.000Z"],
  ])("%s → %s", (input, expected) => expect(toIsoTimestamp(input)).toBe(expected));

  it.each(["", "yesterday", "2026-13-01T00:00:00.000Z", "2026-11-27T24:61:00.000Z"])("refuses %j", (input) =>
    expect(() => toIsoTimestamp(input)).toThrow(/not a timestamp/),
  );
});
