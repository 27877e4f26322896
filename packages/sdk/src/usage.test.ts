import { describe, expect, test } from "vitest";
import { z } from "zod";
import { concurrentTaskRunner, flow, InvalidParametersError, memoryReporter, task } from "./index.js";

const thrownBy = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
};

const double = task({ name: "double" }, async (n: number) => n * 2);
const sub = flow({ name: "sub" }, async () => 1);

describe("misuse", () => {
  test.for([
    { call: "a task", fn: () => double(1), message: 'task "double" was called outside a flow run' },
    {
      call: "task.submit",
      fn: () => double.submit(1),
      message: 'task "double" was called outside a flow run',
    },
    { call: "task.map", fn: () => double.map([1]), message: 'task "double" was called outside a flow run' },
    {
      call: "a flow like a task",
      fn: () => sub(),
      message: 'flow "sub" was called like a task outside a flow run',
    },
  ])("calling $call outside a flow throws INVALID_USAGE", ({ fn, message }) => {
    expect(thrownBy(fn)).toMatchObject({ code: "INVALID_USAGE", message: expect.stringContaining(message) });
  });

  test("the task function itself can be called directly", async () => {
    expect(await double.fn(2, {} as never)).toBe(4);
  });

  const noop = async () => {};
  test.for([
    { config: "task() without a name", fn: () => task({} as never, noop), message: "task() needs a name" },
    {
      config: "task() with a blank name",
      fn: () => task({ name: "  " }, noop),
      message: "task() needs a name",
    },
    { config: "flow() without a name", fn: () => flow({} as never, noop), message: "flow() needs a name" },
    {
      config: "flow() with an empty name",
      fn: () => flow({ name: "" }, noop),
      message: "flow() needs a name",
    },
    {
      config: "negative retries",
      fn: () => task({ name: "t", retries: -1 }, noop),
      message: "retries must be a number ≥ 0",
    },
    {
      config: "an unreadable retryDelay",
      fn: () => task({ name: "t", retryDelay: "soon" }, noop),
      message: "retryDelay",
    },
    {
      config: "an unknown trigger",
      fn: () => task({ name: "t", trigger: "sometimes" as never }, noop),
      message: "trigger must be one of",
    },
    {
      config: "an unreadable flow timeout",
      fn: () => flow({ name: "f", timeout: "forever" }, noop),
      message: "timeout",
    },
    {
      config: "a negative maxRestarts",
      fn: () => flow({ name: "f", maxRestarts: -1 }, noop),
      message: "maxRestarts must be a whole number from 0 to 100 (got -1)",
    },
    {
      config: "params that are no validator",
      fn: () => flow({ name: "f", params: { n: "number" } as never }, noop),
      message: "params must be a Standard Schema validator",
    },
    {
      config: "maxConcurrency 0",
      fn: () => concurrentTaskRunner({ maxConcurrency: 0 }),
      message: "concurrency must be a whole number ≥ 1",
    },
  ])("$config throws INVALID_CONFIG", ({ fn, message }) => {
    expect(thrownBy(fn)).toMatchObject({ code: "INVALID_CONFIG", message: expect.stringContaining(message) });
  });
});

describe("parameters", () => {
  const params = z.object({
    name: z.string(),
    count: z.number().int().min(1),
    mode: z.enum(["a", "b"]).default("a"),
  });

  test("invalid parameters reject before anything runs, listing every issue", async () => {
    let ran = false;
    const reporter = memoryReporter();
    const f = flow({ name: "strict", params }, async () => {
      ran = true;
    });

    const error = await f.run({ name: 3, count: 0, extra: true } as never, { reporter }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(InvalidParametersError);
    const issues = (error as InvalidParametersError).issues;
    expect(issues.map((i) => i.path).sort()).toEqual(["count", "extra", "name"]);
    for (const issue of issues) {
      expect((error as Error).message).toContain(`  - ${issue.path}: ${issue.message}`);
    }
    expect(error).toMatchObject({
      code: "INVALID_PARAMETERS",
      message: expect.stringContaining('flow "strict"'),
    });
    expect(ran).toBe(false);
    expect(reporter.events).toEqual([]);
  });

  test("valid parameters reach the flow with defaults applied", async () => {
    const f = flow({ name: "defaults", params }, async (p) => p);
    const r = await f.run({ name: "x", count: 2 });

    expect(r.parameters).toEqual({ name: "x", count: 2, mode: "a" });
    expect(r.result).toEqual({ name: "x", count: 2, mode: "a" });
  });

  test("a flow without a schema takes no parameters", async () => {
    const f = flow({ name: "none" }, async () => 1);

    await expect(f.run({ surprise: 1 } as never)).rejects.toMatchObject({
      code: "INVALID_PARAMETERS",
      issues: [{ path: "surprise", message: "unknown parameter: this flow takes no parameters" }],
    });
  });
});
