import { describe, expect, test } from "vitest";
import {
  type EngineState,
  type FlowRunResult,
  fail,
  flow,
  NonRetriableError,
  RegentError,
  RetryAfterError,
  skip,
  type TaskRunRecord,
  task,
} from "./index.js";

/** Timers and the two clock reads around a state may differ by a few ms; never by a whole delay. */
const SLACK_MS = 5;

const onlyRun = (r: FlowRunResult<unknown>): TaskRunRecord => {
  expect(r.taskRuns).toHaveLength(1);
  return r.taskRuns[0]!;
};
const typesOf = (run: TaskRunRecord) => run.states.map((s) => s.type);
const retrying = (run: TaskRunRecord) => run.states.filter((s) => s.type === "Retrying");

/** Each Retrying state says when the next attempt starts; that attempt's Running state is no earlier. */
function expectRetryDelays(run: TaskRunRecord, delays: readonly number[]) {
  const states = run.states;
  const waits = states.flatMap((s, i) => {
    if (s.type !== "Retrying") return [];
    const startTime = s.data?.startTime as number;
    const next = states[i + 1] as EngineState;
    expect(next.type).toBe("Running");
    expect(next.timestamp).toBeGreaterThanOrEqual(startTime - SLACK_MS);
    return [startTime - s.timestamp];
  });
  expect(waits).toHaveLength(delays.length);
  waits.forEach((wait, i) => {
    expect(wait).toBeLessThanOrEqual(delays[i]!);
    expect(wait).toBeGreaterThanOrEqual(delays[i]! - SLACK_MS);
  });
}

describe("retries", () => {
  test("a run that fails once goes Running → Retrying → Running → Success", async () => {
    const attempts: number[] = [];
    const flaky = task({ name: "flaky", retries: 2 }, async (_: undefined, ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new Error("connection reset");
      return "ok";
    });
    const r = await flow({ name: "retry-once" }, async () => flaky()).run();

    expect(r.state.type).toBe("Success");
    expect(r.result).toBe("ok");
    const run = onlyRun(r);
    expect(typesOf(run)).toEqual(["Pending", "Running", "Retrying", "Running", "Success"]);
    expect(attempts).toEqual([1, 2]);
    expect(run.attempt).toBe(2);
    expect(run.states[2]).toMatchObject({
      message: "attempt 1 of 3 failed: connection reset; retrying in 0 ms",
      data: { attempt: 1 },
      error: { code: "TASK_FAILED", message: "connection reset" },
    });
    expect(run.states[3]?.data).toEqual({ attempt: 2 });
  });

  test.for([
    { thrown: "an Error", error: () => new Error("boom"), attempts: 3, final: "Failed", code: "TASK_FAILED" },
    { thrown: "fail()", error: () => fail("bad row"), attempts: 3, final: "Failed", code: "TASK_FAILED" },
    {
      thrown: "a NonRetriableError",
      error: () => new NonRetriableError("bad input"),
      attempts: 1,
      final: "Failed",
      code: "NON_RETRIABLE",
    },
    {
      thrown: "a RegentError with a non-retriable code",
      error: () => new RegentError("INVALID_USAGE", "wrong call"),
      attempts: 1,
      final: "Failed",
      code: "INVALID_USAGE",
    },
    { thrown: "skip()", error: () => skip("nothing new"), attempts: 1, final: "Skipped", code: undefined },
  ])(
    "$thrown with retries: 2 → $attempts attempt(s), then $final",
    async ({ error, attempts, final, code }) => {
      let calls = 0;
      const always = task({ name: "always-throws", retries: 2 }, async () => {
        calls++;
        throw error();
      });
      const r = await flow({ name: "retry-table" }, async () => {
        always.submit();
      }).run();

      const run = onlyRun(r);
      expect(calls).toBe(attempts);
      expect(run.attempt).toBe(attempts);
      expect(typesOf(run).filter((t) => t === "Running")).toHaveLength(attempts);
      expect(retrying(run)).toHaveLength(attempts - 1);
      expect(run.state?.type).toBe(final);
      expect(run.state?.error?.code).toBe(code);
    },
  );

  test.for([
    { retryDelay: "10ms", retryBackoff: undefined, maxRetryDelay: undefined, delays: [10, 10, 10] },
    { retryDelay: "10ms", retryBackoff: 2, maxRetryDelay: undefined, delays: [10, 20, 40] },
    { retryDelay: "10ms", retryBackoff: 3, maxRetryDelay: "25ms", delays: [10, 25, 25] },
  ])(
    "retryDelay $retryDelay, retryBackoff $retryBackoff, maxRetryDelay $maxRetryDelay → waits $delays ms",
    async ({ retryDelay, retryBackoff, maxRetryDelay, delays }) => {
      const failing = task(
        {
          name: "failing",
          retries: 3,
          retryDelay,
          ...(retryBackoff === undefined ? {} : { retryBackoff }),
          ...(maxRetryDelay === undefined ? {} : { maxRetryDelay }),
        },
        async () => {
          throw new Error("still down");
        },
      );
      const r = await flow({ name: "retry-delays" }, async () => {
        failing.submit();
      }).run();

      const run = onlyRun(r);
      expect(typesOf(run)).toEqual([
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Retrying",
        "Running",
        "Retrying",
        "Running",
        "Failed",
      ]);
      expectRetryDelays(run, delays);
      expect(retrying(run).map((s) => s.message)).toEqual(
        delays.map((d, i) => `attempt ${i + 1} of 4 failed: still down; retrying in ${d} ms`),
      );
    },
  );

  test("RetryAfterError's delay overrides retryDelay", async () => {
    const limited = task(
      { name: "rate-limited", retries: 1, retryDelay: "1h" },
      async (_: undefined, ctx) => {
        if (ctx.attempt === 1) throw new RetryAfterError("429 Too Many Requests", "15ms");
        return "ok";
      },
    );
    const r = await flow({ name: "retry-after" }, async () => limited()).run();

    expect(r.state.type).toBe("Success");
    const run = onlyRun(r);
    expect(typesOf(run)).toEqual(["Pending", "Running", "Retrying", "Running", "Success"]);
    expectRetryDelays(run, [15]);
    expect(run.states[2]?.error).toMatchObject({ name: "RetryAfterError", details: { delayMs: 15 } });
  });

  test("RetryAfterError does not retry a task that has no retries", async () => {
    const limited = task({ name: "no-retries" }, async () => {
      throw new RetryAfterError("429 Too Many Requests", "10ms");
    });
    const r = await flow({ name: "retry-after-none" }, async () => {
      limited.submit();
    }).run();

    expect(typesOf(onlyRun(r))).toEqual(["Pending", "Running", "Failed"]);
  });
});

describe("timeouts with retries", () => {
  const untilAborted = (signal: AbortSignal) =>
    new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  test("each attempt gets its own timeout and a fresh signal", async () => {
    const abortedAtStart: boolean[] = [];
    const sometimesSlow = task(
      { name: "sometimes-slow", timeout: "20ms", retries: 1 },
      async (_: undefined, ctx) => {
        abortedAtStart.push(ctx.signal.aborted);
        if (ctx.attempt === 1) await untilAborted(ctx.signal);
        return ctx.attempt;
      },
    );
    const r = await flow({ name: "timeout-retry" }, async () => sometimesSlow()).run();

    expect(r.result).toBe(2);
    const run = onlyRun(r);
    expect(typesOf(run)).toEqual(["Pending", "Running", "Retrying", "Running", "Success"]);
    expect(run.states[2]?.error).toMatchObject({ code: "TASK_TIMED_OUT" });
    expect(abortedAtStart).toEqual([false, false]);
  });

  test("a run whose every attempt times out ends TimedOut", async () => {
    const hang = task({ name: "always-slow", timeout: "10ms", retries: 1 }, async (_: undefined, ctx) => {
      await untilAborted(ctx.signal);
    });
    const r = await flow({ name: "timeout-final" }, async () => {
      hang.submit();
    }).run();

    const run = onlyRun(r);
    expect(typesOf(run)).toEqual(["Pending", "Running", "Retrying", "Running", "TimedOut"]);
    expect(r.state.type).toBe("Failed");
    expect(r.state.message).toMatch(
      /always-slow \(TimedOut: task "always-slow" exceeded its timeout of 10 ms\)/,
    );
  });
});
