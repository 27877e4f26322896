import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { type EngineEvent, type EngineState, flow, memoryReporter, task } from "./index.js";

const types = (states: readonly EngineState[]) => states.map((s) => s.type);
const warnings = (events: readonly EngineEvent[]) =>
  events.flatMap((e) => (e.type === "log" && e.log.level === "warn" ? [e.log.message] : []));

describe("state hooks", () => {
  test("a task's hooks see each state, then its result or its error", async () => {
    const seen: Record<string, unknown[]> = { states: [], success: [], failure: [] };
    const double = task(
      {
        name: "double",
        onStateChange: (state) => void seen.states!.push(state.type),
        onSuccess: (result, ctx) => void seen.success!.push([result, ctx.taskName, ctx.mapIndex]),
      },
      async (n: number) => n * 2,
    );
    const flaky = task(
      {
        name: "flaky",
        retries: 1,
        onStateChange: (state) => void seen.states!.push(`flaky ${state.type}`),
        onFailure: (error, state) => void seen.failure!.push([(error as Error).message, state.type]),
      },
      async () => {
        throw new Error("boom");
      },
    );
    const f = flow({ name: "hooked-tasks" }, async () => {
      const x: number = await double(21);
      try {
        await flaky();
      } catch {
        // Handled here: the flow run still succeeds.
      }
      return x;
    });
    const run = await f.run();
    expect(run.state.type).toBe("Success");
    expect(seen.states).toEqual([
      "Pending",
      "Running",
      "Success",
      "flaky Pending",
      "flaky Running",
      "flaky Retrying",
      "flaky Running",
      "flaky Failed",
    ]);
    expect(seen.success).toEqual([[42, "double", -1]]);
    expect(seen.failure).toEqual([["boom", "Failed"]]);
  });

  test("a flow's hooks get its result or error, and the run ends after they finish", async () => {
    let finished = false;
    const ok = flow(
      {
        name: "ok",
        onSuccess: async (result) => {
          await sleep(50);
          finished = result === "done";
        },
      },
      async () => "done",
    );
    expect((await ok.run()).state.type).toBe("Success");
    expect(finished).toBe(true);

    const failures: unknown[] = [];
    const states: string[] = [];
    const bad = flow(
      {
        name: "bad",
        onStateChange: (s) => void states.push(s.type),
        onFailure: (error, state, ctx) =>
          void failures.push([(error as Error).message, state.type, ctx.flowName]),
      },
      async () => {
        throw new Error("no input");
      },
    );
    const run = await bad.run();
    expect(types(run.states)).toEqual(["Running", "Failed"]);
    expect(states).toEqual(["Running", "Failed"]);
    expect(failures).toEqual([["no input", "Failed", "bad"]]);
  });

  test("a hook that throws is a warning in the run's log; the outcome stands", async () => {
    const reporter = memoryReporter();
    const t = task(
      {
        name: "t",
        onSuccess: () => {
          throw new Error("webhook down");
        },
      },
      async () => 1,
    );
    const f = flow(
      {
        name: "f",
        onSuccess: () => {
          throw new Error("flow hook down");
        },
      },
      async () => t(),
    );
    const run = await f.run(undefined, { reporter });
    expect(run.state.type).toBe("Success");
    expect(run.taskRuns[0]!.state?.type).toBe("Success");
    expect(warnings(reporter.events)).toEqual([
      "onSuccess hook of task run t failed: webhook down",
      expect.stringMatching(/^onSuccess hook of flow run f-\w+ failed: flow hook down$/),
    ]);
  });
});
