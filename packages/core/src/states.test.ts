import { describe, expect, test } from "vitest";
import {
  ALL_STATE_TYPES,
  FAILURE_LIKE_STATES,
  FINAL_STATES,
  isFailureLike,
  isFinal,
  isSuccessLike,
  RUN_STATES,
  type RunStateType,
  RunStateTypeSchema,
  StateSchema,
  SUCCESS_LIKE_STATES,
} from "./states.js";

interface Classification {
  readonly final: boolean;
  readonly successLike: boolean;
  readonly failureLike: boolean;
}

// `satisfies Record<RunStateType, …>` makes a new state a compile error here until it is classified.
const EXPECTED = {
  Pending: { final: false, successLike: false, failureLike: false },
  Scheduled: { final: false, successLike: false, failureLike: false },
  Submitted: { final: false, successLike: false, failureLike: false },
  Queued: { final: false, successLike: false, failureLike: false },
  Running: { final: false, successLike: false, failureLike: false },
  Retrying: { final: false, successLike: false, failureLike: false },
  Paused: { final: false, successLike: false, failureLike: false },
  Cancelling: { final: false, successLike: false, failureLike: false },
  Success: { final: true, successLike: true, failureLike: false },
  Failed: { final: true, successLike: false, failureLike: true },
  Cancelled: { final: true, successLike: false, failureLike: false },
  Skipped: { final: true, successLike: true, failureLike: false },
  TimedOut: { final: true, successLike: false, failureLike: true },
  TriggerFailed: { final: true, successLike: false, failureLike: true },
  Cached: { final: true, successLike: true, failureLike: false },
  Mapped: { final: true, successLike: true, failureLike: false },
} as const satisfies Record<RunStateType, Classification>;

describe("state predicates", () => {
  test("the expectation table covers every state", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ALL_STATE_TYPES].sort());
  });

  test.for(ALL_STATE_TYPES.map((state) => ({ state, ...EXPECTED[state] })))(
    "$state: final=$final successLike=$successLike failureLike=$failureLike",
    ({ state, final, successLike, failureLike }) => {
      expect({
        final: isFinal(state),
        successLike: isSuccessLike(state),
        failureLike: isFailureLike(state),
      }).toEqual({ final, successLike, failureLike });
    },
  );

  test("success-like and failure-like states are final and disjoint", () => {
    for (const s of SUCCESS_LIKE_STATES) expect(FINAL_STATES.has(s)).toBe(true);
    for (const s of FAILURE_LIKE_STATES) expect(FINAL_STATES.has(s)).toBe(true);
    for (const s of SUCCESS_LIKE_STATES) expect(FAILURE_LIKE_STATES.has(s)).toBe(false);
  });

  test("RUN_STATES maps each name to itself", () => {
    for (const [key, value] of Object.entries(RUN_STATES)) expect(value).toBe(key);
  });
});

describe("RunStateTypeSchema", () => {
  test.for(ALL_STATE_TYPES)("accepts %s", (state) => {
    expect(RunStateTypeSchema.parse(state)).toBe(state);
  });

  test.for(["running", "RUNNING", "Unknown", "", "Success ", 1, null, undefined])("rejects %j", (value) => {
    expect(RunStateTypeSchema.safeParse(value).success).toBe(false);
  });
});

describe("StateSchema", () => {
  const timestamp = "2024-05-01T12:00:00.000Z";

  test.for([
    { name: "type and timestamp only", input: { type: "Running", timestamp } },
    { name: "with a message", input: { type: "Failed", timestamp, message: "boom" } },
    { name: "with data", input: { type: "Scheduled", timestamp, data: { startTime: timestamp, n: 1 } } },
    { name: "with a result ref", input: { type: "Success", timestamp, resultRef: "results/abc.json" } },
    {
      name: "with every field",
      input: {
        type: "Retrying",
        timestamp,
        message: "retry 1",
        data: { startTime: timestamp },
        resultRef: "r",
      },
    },
  ])("accepts: $name", ({ input }) => {
    expect(StateSchema.parse(input)).toEqual(input);
  });

  test("drops keys it does not know", () => {
    expect(StateSchema.parse({ type: "Running", timestamp, extra: 1 })).toEqual({
      type: "Running",
      timestamp,
    });
  });

  test.for([
    { name: "an unknown type", input: { type: "Done", timestamp } },
    { name: "a lower-case type", input: { type: "running", timestamp } },
    { name: "no type", input: { timestamp } },
    { name: "no timestamp", input: { type: "Running" } },
    { name: "a numeric timestamp", input: { type: "Running", timestamp: 1714564800000 } },
    { name: "a non-string message", input: { type: "Running", timestamp, message: 42 } },
    { name: "data that is an array", input: { type: "Running", timestamp, data: ["x"] } },
    { name: "data that is a string", input: { type: "Running", timestamp, data: "x" } },
    { name: "a non-string result ref", input: { type: "Success", timestamp, resultRef: 1 } },
    { name: "null", input: null },
    { name: "a string", input: "Running" },
  ])("rejects $name", ({ input }) => {
    expect(StateSchema.safeParse(input).success).toBe(false);
  });
});
