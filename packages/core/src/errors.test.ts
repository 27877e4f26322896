import { describe, expect, test } from "vitest";
import {
  CancelledError,
  classifyError,
  ERROR_CODES,
  type ErrorCode,
  errorCodeOf,
  FlowLoadError,
  FlowNotFoundError,
  InfrastructureError,
  InvalidConfigError,
  InvalidParametersError,
  InvalidTransitionError,
  InvalidUsageError,
  NotSerializableError,
  RegentError,
  SerializedErrorSchema,
  serializeError,
  TaskNotFoundError,
  TaskTimeoutError,
  TriggerFailedError,
  UpstreamFailedError,
} from "./errors.js";

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe("ERROR_CODES", () => {
  test.for(ALL_CODES)("%s is classified as a user or infrastructure fault", (code) => {
    const entry = ERROR_CODES[code];
    expect(["user", "infrastructure"]).toContain(entry.fault);
    expect(classifyError(code)).toBe(entry.fault);
    expect(typeof entry.retriable).toBe("boolean");
    expect(entry.summary).not.toBe("");
  });

  test.for(ALL_CODES)("%s is SCREAMING_SNAKE_CASE", (code) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  });

  test("infrastructure faults are retriable (Lazarus applies)", () => {
    for (const code of ALL_CODES)
      if (ERROR_CODES[code].fault === "infrastructure") expect(ERROR_CODES[code].retriable).toBe(true);
  });
});

describe("RegentError subclasses", () => {
  const cause = new Error("root cause");
  test.for([
    {
      name: "InvalidParametersError",
      code: "INVALID_PARAMETERS",
      make: () => new InvalidParametersError([{ path: "a", message: "bad" }]),
    },
    {
      name: "InvalidTransitionError",
      code: "INVALID_TRANSITION",
      make: () => new InvalidTransitionError("Success", "Running", "final"),
    },
    { name: "InvalidConfigError", code: "INVALID_CONFIG", make: () => new InvalidConfigError("bad config") },
    { name: "InvalidUsageError", code: "INVALID_USAGE", make: () => new InvalidUsageError("bad usage") },
    {
      name: "FlowLoadError",
      code: "FLOW_LOAD_FAILED",
      make: () => new FlowLoadError("cannot load", { cause }),
    },
    { name: "FlowNotFoundError", code: "FLOW_NOT_FOUND", make: () => new FlowNotFoundError("no flow") },
    {
      name: "TaskNotFoundError",
      code: "TASK_NOT_FOUND",
      make: () => new TaskNotFoundError("t", "file:///f.ts"),
    },
    { name: "TaskTimeoutError", code: "TASK_TIMED_OUT", make: () => new TaskTimeoutError("t", 1000) },
    {
      name: "TriggerFailedError",
      code: "TRIGGER_FAILED",
      make: () => new TriggerFailedError("t", "all_successful", ["Failed"]),
    },
    {
      name: "UpstreamFailedError",
      code: "UPSTREAM_FAILED",
      make: () => new UpstreamFailedError("t", "Failed", cause),
    },
    {
      name: "NotSerializableError",
      code: "NOT_SERIALIZABLE",
      make: () => new NotSerializableError("result", cause),
    },
    { name: "CancelledError", code: "CANCELLED", make: () => new CancelledError() },
    {
      name: "InfrastructureError",
      code: "INFRASTRUCTURE_FAILURE",
      make: () => new InfrastructureError("pod died"),
    },
  ] satisfies { name: string; code: ErrorCode; make: () => RegentError }[])(
    "$name has code $code",
    ({ name, code, make }) => {
      const e = make();
      expect(e).toBeInstanceOf(RegentError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(name);
      expect(e.constructor.name).toBe(name);
      expect(e.code).toBe(code);
      expect(e.fault).toBe(ERROR_CODES[code].fault);
      expect(e.message).not.toBe("");
    },
  );

  test("RegentError itself is named RegentError and keeps code, details and cause", () => {
    const cause = new Error("inner");
    const e = new RegentError("WORKER_CRASHED", "worker exited", { cause, details: { pid: 1 } });
    expect(e).toMatchObject({
      name: "RegentError",
      code: "WORKER_CRASHED",
      message: "worker exited",
      details: { pid: 1 },
    });
    expect(e.cause).toBe(cause);
    expect(e.fault).toBe("infrastructure");
  });

  test("no cause property when none is given", () => {
    expect("cause" in new InvalidUsageError("x")).toBe(false);
    expect(new InvalidUsageError("x").details).toBeUndefined();
  });

  test("a subclass of a subclass is named after itself", () => {
    class MyConfigError extends InvalidConfigError {}
    expect(new MyConfigError("x").name).toBe("MyConfigError");
  });

  test.for([
    {
      name: "with a flow",
      flow: "etl",
      want: 'invalid parameters for flow "etl":\n  - a.b: bad\n  - (parameters): whole',
    },
    {
      name: "without a flow",
      flow: undefined,
      want: "invalid parameters:\n  - a.b: bad\n  - (parameters): whole",
    },
  ])("InvalidParametersError message $name", ({ flow, want }) => {
    const issues = [
      { path: "a.b", message: "bad" },
      { path: "", message: "whole" },
    ];
    const e = new InvalidParametersError(issues, flow);
    expect(e.message).toBe(want);
    expect(e.issues).toEqual(issues);
    expect(e.details).toEqual({ issues });
  });

  test("details carry the fields a caller needs", () => {
    expect(new InvalidTransitionError("Success", "Running", "final").details).toEqual({
      from: "Success",
      to: "Running",
    });
    expect(new TaskNotFoundError("t", "file:///f.ts").details).toEqual({
      taskName: "t",
      moduleUrl: "file:///f.ts",
    });
    expect(new TaskTimeoutError("t", 5).details).toEqual({ taskName: "t", timeoutMs: 5 });
    expect(new UpstreamFailedError("t", "Failed").details).toEqual({ taskName: "t", state: "Failed" });
    expect(new InvalidConfigError("x", { key: "k" }).details).toEqual({ key: "k" });
    expect(new InvalidConfigError("x").details).toBeUndefined();
  });

  test("NotSerializableError explains an Error cause and keeps it", () => {
    const cause = new TypeError("cyclic structure");
    const e = new NotSerializableError("the result of task t", cause);
    expect(e.message).toBe("the result of task t cannot be serialised: cyclic structure");
    expect(e.cause).toBe(cause);
    expect(new NotSerializableError("x", "why").message).toBe("x cannot be serialised");
  });
});

describe("serializeError", () => {
  const roundTrips = (value: unknown) => {
    const out = serializeError(value);
    expect(SerializedErrorSchema.parse(out)).toEqual(out);
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    return out;
  };

  test("a plain Error takes the fallback code", () => {
    const e = new TypeError("nope");
    expect(roundTrips(e)).toEqual({
      code: "TASK_FAILED",
      name: "TypeError",
      message: "nope",
      stack: e.stack,
    });
    expect(serializeError(e, "INFRASTRUCTURE_FAILURE").code).toBe("INFRASTRUCTURE_FAILURE");
  });

  test("a RegentError keeps its code and details", () => {
    const e = new FlowNotFoundError("no flow named etl", { flowName: "etl" });
    expect(roundTrips(e)).toEqual({
      code: "FLOW_NOT_FOUND",
      name: "FlowNotFoundError",
      message: "no flow named etl",
      stack: e.stack,
      details: { flowName: "etl" },
    });
    expect(serializeError(e, "INFRASTRUCTURE_FAILURE").code).toBe("FLOW_NOT_FOUND");
  });

  test("a RegentError without details has no details key", () => {
    expect("details" in serializeError(new CancelledError())).toBe(false);
  });

  test("an Error with a foreign code takes the fallback", () => {
    expect(serializeError(Object.assign(new Error("x"), { code: "ENOENT" })).code).toBe("TASK_FAILED");
  });

  test("nested causes are serialised, down to non-Error values", () => {
    const root = "disk full";
    const middle = new Error("write failed", { cause: root });
    const top = new FlowLoadError("cannot load flow", { cause: middle, details: { file: "f.ts" } });
    const out = roundTrips(top);
    expect(out).toMatchObject({
      code: "FLOW_LOAD_FAILED",
      name: "FlowLoadError",
      details: { file: "f.ts" },
      cause: {
        code: "TASK_FAILED",
        name: "Error",
        message: "write failed",
        cause: { code: "TASK_FAILED", name: "NonError", message: "disk full" },
      },
    });
    expect(out.cause?.cause?.cause).toBeUndefined();
  });

  test("causes take the caller's fallback code", () => {
    const out = serializeError(new Error("a", { cause: new Error("b") }), "WORKER_CRASHED");
    expect(out.cause?.code).toBe("WORKER_CRASHED");
  });

  test("a cyclic cause chain is cut off", () => {
    const e = new Error("loop");
    (e as { cause?: unknown }).cause = e;
    let depth = 0;
    for (let c = roundTrips(e).cause; c; c = c.cause) depth++;
    expect(depth).toBe(5);
  });

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicBare = Object.create(null) as Record<string, unknown>;
  cyclicBare.self = cyclicBare;

  test.for([
    { name: "a string", value: "boom", message: "boom" },
    { name: "an empty string", value: "", message: "" },
    { name: "a number", value: 42, message: "42" },
    { name: "a boolean", value: false, message: "false" },
    { name: "null", value: null, message: "null" },
    { name: "undefined", value: undefined, message: "undefined" },
    { name: "a bigint", value: 10n, message: "10" },
    { name: "a symbol", value: Symbol("s"), message: "Symbol(s)" },
    { name: "a plain object", value: { reason: "x", n: 1 }, message: '{"reason":"x","n":1}' },
    { name: "an array", value: [1, "a"], message: '[1,"a"]' },
    { name: "a cyclic object", value: cyclic, message: "[object Object]" },
    { name: "a cyclic object without a prototype", value: cyclicBare, message: "[object Object]" },
    {
      name: "an error-like object",
      value: { name: "E", message: "m", code: "CANCELLED" },
      message: '{"name":"E","message":"m","code":"CANCELLED"}',
    },
  ])("a non-Error value: $name", ({ value, message }) => {
    expect(roundTrips(value)).toEqual({ code: "TASK_FAILED", name: "NonError", message });
  });

  test("a non-Error value takes the fallback code", () => {
    expect(serializeError("x", "CANCELLED").code).toBe("CANCELLED");
  });
});

describe("errorCodeOf", () => {
  test.for([
    { name: "a RegentError", value: new TaskTimeoutError("t", 1), want: "TASK_TIMED_OUT" },
    { name: "a plain Error", value: new Error("x"), want: "TASK_FAILED" },
    {
      name: "an Error with a Node code",
      value: Object.assign(new Error("x"), { code: "ENOENT" }),
      want: "TASK_FAILED",
    },
    { name: "an object with a known code", value: { code: "CANCELLED" }, want: "CANCELLED" },
    { name: "an object with a numeric code", value: { code: 1 }, want: "TASK_FAILED" },
    { name: "an object with a lower-case code", value: { code: "cancelled" }, want: "TASK_FAILED" },
    { name: "an inherited property name as code", value: { code: "toString" }, want: "TASK_FAILED" },
    { name: "constructor as code", value: { code: "constructor" }, want: "TASK_FAILED" },
    { name: "__proto__ as code", value: { code: "__proto__" }, want: "TASK_FAILED" },
    { name: "a string", value: "CANCELLED", want: "TASK_FAILED" },
    { name: "null", value: null, want: "TASK_FAILED" },
    { name: "undefined", value: undefined, want: "TASK_FAILED" },
  ] satisfies { name: string; value: unknown; want: ErrorCode }[])("$name → $want", ({ value, want }) => {
    expect(errorCodeOf(value)).toBe(want);
  });

  test("uses the given fallback", () => {
    expect(errorCodeOf(new Error("x"), "INFRASTRUCTURE_FAILURE")).toBe("INFRASTRUCTURE_FAILURE");
    expect(errorCodeOf(new CancelledError(), "INFRASTRUCTURE_FAILURE")).toBe("CANCELLED");
  });
});
