import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import {
  concurrentTaskRunner,
  type FlowRunResult,
  flow,
  memoryReporter,
  type TaskRunRecord,
  task,
} from "./index.js";

function runOf(result: FlowRunResult<unknown>, taskName: string, mapIndex = -1): TaskRunRecord {
  const run = result.taskRuns.find((r) => r.info.taskName === taskName && r.info.mapIndex === mapIndex);
  if (!run)
    throw new Error(`no run of ${taskName}[${mapIndex}]: ${result.taskRuns.map((r) => r.label).join(", ")}`);
  return run;
}
const typesOf = (run: TaskRunRecord) => run.states.map((s) => s.type);
const nameOf = (result: FlowRunResult<unknown>, id: string) =>
  result.taskRuns.find((r) => r.info.id === id)?.info.taskName;

const double = task({ name: "double" }, async (n: number) => n * 2);
const diskFull = new Error("disk full");
const boom = task({ name: "boom" }, async (): Promise<number> => {
  throw diskFull;
});
const slow = task({ name: "slow" }, async () => {
  await sleep(30);
  return "done";
});

describe("task run states", () => {
  test("a run that succeeds goes Pending → Running → Success, reported in the same order", async () => {
    const reporter = memoryReporter();
    const r = await flow({ name: "states-success" }, async () => double(21)).run(undefined, { reporter });

    expect(r.state.type).toBe("Success");
    expect(r.result).toBe(42);
    expect(r.states.map((s) => s.type)).toEqual(["Running", "Success"]);
    const run = runOf(r, "double");
    expect(typesOf(run)).toEqual(["Pending", "Running", "Success"]);
    expect(run).toMatchObject({ attempt: 1, value: 42, error: undefined });
    const stamps = run.states.map((s) => s.timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));

    const reported = reporter.events.flatMap((e) =>
      e.type === "task_run_state" && e.taskRunId === run.info.id ? [e.state] : [],
    );
    expect(reported).toEqual(run.states);
    expect(reporter.events.map((e) => e.type)).toEqual([
      "flow_run_created",
      "flow_run_state",
      "task_run_created",
      "task_run_state",
      "task_run_state",
      "task_run_state",
      "flow_run_state",
    ]);
  });

  test("runs made one after another get default names that differ (ids begin with the time)", async () => {
    const reporter = memoryReporter();
    const f = flow({ name: "named" }, async () => 1);
    for (let i = 0; i < 5; i++) await f.run(undefined, { reporter });
    const names = reporter.events.flatMap((e) => (e.type === "flow_run_created" ? [e.flowRun.name] : []));
    expect(names).toHaveLength(5);
    for (const name of names) expect(name).toMatch(/^named-[0-9a-f]{8}$/);
    expect(new Set(names).size).toBe(5);
  });

  test("a run that throws ends Failed and keeps the error", async () => {
    const r = await flow({ name: "states-failed" }, async () => {
      await boom();
    }).run();

    const run = runOf(r, "boom");
    expect(typesOf(run)).toEqual(["Pending", "Running", "Failed"]);
    expect(run.error).toBe(diskFull);
    expect(run.state).toMatchObject({
      type: "Failed",
      message: "disk full",
      error: { code: "TASK_FAILED", name: "Error", message: "disk full" },
    });
    expect(r.state.type).toBe("Failed");
    expect(r.error).toBe(diskFull);
  });

  test("a run past its timeout ends TimedOut, with ctx.signal aborted", async () => {
    let signal: AbortSignal | undefined;
    const hang = task({ name: "hang", timeout: "20ms" }, async (_: undefined, ctx) => {
      signal = ctx.signal;
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
      );
    });
    const r = await flow({ name: "states-timeout" }, async () => {
      await hang();
    }).run();

    const run = runOf(r, "hang");
    expect(typesOf(run)).toEqual(["Pending", "Running", "TimedOut"]);
    expect(run.state?.error).toMatchObject({ code: "TASK_TIMED_OUT" });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toMatchObject({ code: "TASK_TIMED_OUT" });
    expect(r.state.type).toBe("Failed");
  });
});

describe("the flow run's outcome", () => {
  test("a task that throws fails the flow, while independent task runs still finish", async () => {
    const r = await flow({ name: "outcome-independent" }, async () => {
      slow();
      await boom();
    }).run();

    expect(r.state.type).toBe("Failed");
    expect(r.error).toBe(diskFull);
    const slowRun = runOf(r, "slow");
    expect(typesOf(slowRun)).toEqual(["Pending", "Running", "Success"]);
    expect(slowRun.value).toBe("done");
    // It finished after the failure, and the flow waited for it.
    expect(slowRun.state!.timestamp).toBeGreaterThanOrEqual(runOf(r, "boom").state!.timestamp);
    expect(r.state.timestamp).toBeGreaterThanOrEqual(slowRun.state!.timestamp);
  });

  test("a failure the flow catches leaves the flow Success", async () => {
    const r = await flow({ name: "outcome-caught" }, async () => {
      try {
        return await boom();
      } catch (error) {
        return `recovered from ${(error as Error).message}`;
      }
    }).run();

    expect(r.state.type).toBe("Success");
    expect(r.result).toBe("recovered from disk full");
    expect(runOf(r, "boom").state?.type).toBe("Failed");
  });

  test("a failed future nobody awaited fails the flow, naming the task", async () => {
    const r = await flow({ name: "outcome-unawaited" }, async () => {
      boom.submit();
      return "returned";
    }).run();

    expect(r.state.type).toBe("Failed");
    expect(r.error).toMatchObject({ code: "TASK_FAILED", cause: diskFull });
    expect(r.state.message).toBe("1 task run failed: boom (Failed: disk full)");
    expect(r.result).toBe("returned");
  });

  test("a failed future passed downstream is the downstream's to report", async () => {
    const use = task({ name: "use" }, async (n: number) => n);
    const r = await flow({ name: "outcome-downstream" }, async () => {
      use(boom());
    }).run();

    expect(runOf(r, "use").state).toMatchObject({ type: "TriggerFailed", error: { code: "TRIGGER_FAILED" } });
    expect(r.state.type).toBe("Failed");
    expect(r.state.message).toMatch(/^1 task run failed: use \(TriggerFailed: /);
  });
});

describe("upstream edges", () => {
  const one = task({ name: "one" }, async () => 1);
  const two = task({ name: "two" }, async () => 2);
  const echo = task({ name: "echo" }, async (input: unknown) => input);

  test.for([
    { form: "a future", input: () => one(), received: 1, upstream: ["one"] },
    {
      form: "an array holding futures",
      input: () => [one(), 5, two()],
      received: [1, 5, 2],
      upstream: ["one", "two"],
    },
    {
      form: "an object holding futures",
      input: () => ({ a: one(), b: "x" }),
      received: { a: 1, b: "x" },
      upstream: ["one"],
    },
    { form: "a plain value", input: () => 7, received: 7, upstream: [] },
  ])("$form as the input", async ({ input, received, upstream }) => {
    const r = await flow({ name: "edges" }, async () => echo(input())).run();

    expect(r.state.type).toBe("Success");
    expect(r.result).toEqual(received);
    expect(runOf(r, "echo").info.upstream.map((id) => nameOf(r, id))).toEqual(upstream);
  });
});

describe("concurrentTaskRunner", () => {
  test.for([
    { maxConcurrency: 1, expected: 1 },
    { maxConcurrency: 2, expected: 2 },
    { maxConcurrency: undefined, expected: 6 },
  ])(
    "maxConcurrency $maxConcurrency runs at most $expected task functions at once",
    async ({ maxConcurrency, expected }) => {
      let inFlight = 0;
      let most = 0;
      const work = task({ name: "work" }, async (n: number) => {
        most = Math.max(most, ++inFlight);
        await sleep(5);
        inFlight--;
        return n;
      });
      const runner = concurrentTaskRunner(maxConcurrency === undefined ? {} : { maxConcurrency });
      const r = await flow({ name: "limited", taskRunner: runner }, async () =>
        work.map([1, 2, 3, 4, 5, 6]),
      ).run();

      expect(r.state.type).toBe("Success");
      expect(r.result).toEqual([1, 2, 3, 4, 5, 6]);
      expect(most).toBe(expected);
    },
  );
});
