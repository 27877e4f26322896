import { describe, expect, test } from "vitest";
import {
  concurrentTaskRunner,
  type EngineEvent,
  type FlowRunResult,
  flow,
  memoryReporter,
  type TaskRunRecord,
  task,
} from "./index.js";

function runOf(result: FlowRunResult<unknown>, taskName: string): TaskRunRecord {
  const run = result.taskRuns.find((r) => r.info.taskName === taskName);
  if (!run) throw new Error(`no run of ${taskName}: ${result.taskRuns.map((r) => r.label).join(", ")}`);
  return run;
}
const typesOf = (run: TaskRunRecord) => run.states.map((s) => s.type);

/** Resolves, then throws the signal's reason, once the signal is aborted: a task that honours ctx.signal. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

/** A reporter that calls `then` once a task run of `taskName` reaches `state`. */
function onState(taskName: string, state: string, then: () => void) {
  const reporter = memoryReporter();
  const names = new Map<string, string>();
  return {
    ...reporter,
    record(event: EngineEvent) {
      reporter.record(event);
      if (event.type === "task_run_created") names.set(event.taskRun.id, event.taskRun.taskName);
      if (
        event.type === "task_run_state" &&
        event.state.type === state &&
        names.get(event.taskRunId) === taskName
      ) {
        then();
      }
    },
  };
}

describe("cancellation through an AbortSignal", () => {
  test("the running task sees ctx.signal; it, its downstream and queued runs end Cancelled", async () => {
    const controller = new AbortController();
    let laterCalls = 0;
    const blocker = task({ name: "blocker" }, async (_: undefined, ctx) => untilAborted(ctx.signal));
    const after = task({ name: "after" }, async (v: unknown) => v);
    const queued = task({ name: "queued" }, async () => ++laterCalls);
    const f = flow({ name: "cancel", taskRunner: concurrentTaskRunner({ maxConcurrency: 1 }) }, async () => {
      const b = blocker();
      const q = queued();
      await after(b);
      await q;
    });
    const reporter = onState("blocker", "Running", () => controller.abort(new Error("stopped by the user")));
    const r = await f.run(undefined, { signal: controller.signal, reporter });

    expect(r.state).toMatchObject({ type: "Cancelled", message: "stopped by the user" });
    expect(typesOf(runOf(r, "blocker"))).toEqual(["Pending", "Running", "Cancelled"]);
    expect(runOf(r, "blocker").error).toMatchObject({ message: "stopped by the user" });
    expect(typesOf(runOf(r, "after"))).toEqual(["Pending", "Cancelled"]);
    expect(typesOf(runOf(r, "queued"))).toEqual(["Pending", "Cancelled"]);
    expect(laterCalls).toBe(0);
  });

  test("an already aborted signal runs no task function", async () => {
    let calls = 0;
    const work = task({ name: "work" }, async (n: number) => n + ++calls);
    const r = await flow({ name: "cancel-before" }, async () => {
      await work(0);
      await work.map([1, 2]);
    }).run(undefined, { signal: AbortSignal.abort() });

    expect(r.state.type).toBe("Cancelled");
    expect(calls).toBe(0);
    // awaiting the cancelled run rejects, so the flow function stops before the map
    expect(r.taskRuns.map((t) => t.state?.type)).toEqual(["Cancelled"]);
    expect(r.error).toMatchObject({ code: "CANCELLED" });
  });

  test("a run waiting to retry is cancelled without another attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const flaky = task({ name: "flaky", retries: 5, retryDelay: "10s" }, async () => {
      calls++;
      throw new Error("down");
    });
    const reporter = onState("flaky", "Retrying", () => controller.abort());
    const r = await flow({ name: "cancel-retrying" }, async () => {
      await flaky();
    }).run(undefined, { signal: controller.signal, reporter });

    expect(r.state.type).toBe("Cancelled");
    expect(calls).toBe(1);
    expect(typesOf(runOf(r, "flaky"))).toEqual(["Pending", "Running", "Retrying", "Cancelled"]);
  });

  test("a cancelled parent cancels the subflow it is running", async () => {
    const controller = new AbortController();
    const blocker = task({ name: "inner" }, async (_: undefined, ctx) => untilAborted(ctx.signal));
    const inner = flow({ name: "inner-flow" }, async () => blocker());
    const reporter = onState("inner", "Running", () => controller.abort());
    const r = await flow({ name: "cancel-subflow" }, async () => {
      await inner();
    }).run(undefined, { signal: controller.signal, reporter });

    expect(r.state.type).toBe("Cancelled");
    expect(typesOf(runOf(r, "inner-flow"))).toEqual(["Pending", "Running", "Cancelled"]);
    const innerStates = reporter.events.flatMap((e) =>
      e.type === "flow_run_state" && e.flowRunId !== r.id ? [e.state.type] : [],
    );
    expect(innerStates).toEqual(["Running", "Cancelled"]);
  });
});

describe("flow timeout", () => {
  test("a flow past its timeout ends TimedOut, its running task Cancelled", async () => {
    const blocker = task({ name: "blocker" }, async (_: undefined, ctx) => untilAborted(ctx.signal));
    const r = await flow({ name: "flow-timeout", timeout: "30ms" }, async () => {
      await blocker();
    }).run();

    expect(r.state).toMatchObject({ type: "TimedOut", message: "flow run exceeded its timeout of 30 ms" });
    expect(typesOf(runOf(r, "blocker"))).toEqual(["Pending", "Running", "Cancelled"]);
  });

  test("a cancellation whose reason mentions a timeout is still Cancelled", async () => {
    const controller = new AbortController();
    const blocker = task({ name: "blocker" }, async (_: undefined, ctx) => untilAborted(ctx.signal));
    const reporter = onState("blocker", "Running", () => controller.abort(new Error("gateway timeout")));
    const r = await flow({ name: "flow-timeout-cancel", timeout: "10s" }, async () => {
      await blocker();
    }).run(undefined, { signal: controller.signal, reporter });

    expect(r.state).toMatchObject({ type: "Cancelled", message: "gateway timeout" });
  });
});

describe("task runs that ignore the cancellation", () => {
  test("are abandoned after the grace period: they end Cancelled and the run ends", async () => {
    let release: () => void = () => {};
    const deaf = task({ name: "deaf" }, async () => {
      // Ignores ctx.signal: only the test lets it go, after the run has ended.
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 1;
    });
    const controller = new AbortController();
    const reporter = onState("deaf", "Running", () => controller.abort());
    const started = Date.now();
    const r = await flow({ name: "deaf-flow" }, async () => deaf()).run(undefined, {
      reporter,
      signal: controller.signal,
      abandonAfter: 200,
    });
    release();
    expect(r.state.type).toBe("Cancelled");
    expect(Date.now() - started).toBeLessThan(5_000);
    const run = runOf(r, "deaf");
    expect(typesOf(run)).toEqual(["Pending", "Running", "Cancelled"]);
    expect(run.state?.message).toBe("did not stop within 200 ms of the flow run being cancelled; abandoned");
  });

  test("a run's own timeout overrides the flow's, and ends it TimedOut", async () => {
    const slow = task({ name: "slow-for-timeout" }, async (_: undefined, ctx) => untilAborted(ctx.signal));
    const r = await flow({ name: "long", timeout: "1h" }, async () => slow()).run(undefined, {
      timeout: 100,
    });
    expect(r.state.type).toBe("TimedOut");
    expect(r.state.message).toBe("flow run exceeded its timeout of 100 ms");
  });
});
