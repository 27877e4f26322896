import { describe, expect, test } from "vitest";
import { z } from "zod";
import { type EngineEvent, type FlowRunInfo, flow, memoryReporter, task } from "./index.js";

const double = task({ name: "double" }, async (n: number) => n * 2);
const lostConnection = new Error("lost connection");
const broken = task({ name: "broken" }, async (): Promise<number> => {
  throw lostConnection;
});

const child = flow({ name: "child", params: z.object({ n: z.number() }) }, async ({ n }) => double(n));
const failingChild = flow({ name: "failing-child" }, async () => broken());

const createdFlowRuns = (events: readonly EngineEvent[]): FlowRunInfo[] =>
  events.flatMap((e) => (e.type === "flow_run_created" ? [e.flowRun] : []));

describe("subflows", () => {
  test("a subflow's result comes back through a task run of the parent", async () => {
    const reporter = memoryReporter();
    const parent = flow({ name: "parent" }, async () => (await child({ n: 4 })) + 1);
    const r = await parent.run(undefined, { reporter });

    expect(r.state.type).toBe("Success");
    expect(r.result).toBe(9);
    expect(r.taskRuns).toHaveLength(1);
    const standIn = r.taskRuns[0]!;
    expect(standIn).toMatchObject({ label: "subflow:child", value: 8 });
    expect(standIn.states.map((s) => s.type)).toEqual(["Pending", "Running", "Success"]);

    const [parentRun, childRun] = createdFlowRuns(reporter.events);
    expect(parentRun).toMatchObject({ id: r.id, flowName: "parent", parentTaskRunId: undefined });
    expect(childRun).toMatchObject({
      flowName: "child",
      parameters: { n: 4 },
      parentTaskRunId: standIn.info.id,
    });
    const childStates = reporter.events.flatMap((e) =>
      e.type === "flow_run_state" && e.flowRunId === childRun!.id ? [e.state.type] : [],
    );
    expect(childStates).toEqual(["Running", "Success"]);
    const childTaskRuns = reporter.events.flatMap((e) => (e.type === "task_run_created" ? [e.taskRun] : []));
    expect(childTaskRuns.find((t) => t.taskName === "double")?.flowRunId).toBe(childRun!.id);
  });

  test("a subflow's failure fails its task run, and the parent that awaited it", async () => {
    const r = await flow({ name: "parent-awaits" }, async () => {
      await failingChild();
    }).run();

    expect(r.state.type).toBe("Failed");
    expect(r.error).toBe(lostConnection);
    expect(r.taskRuns[0]!).toMatchObject({ label: "subflow:failing-child", error: lostConnection });
    expect(r.taskRuns[0]!.state?.type).toBe("Failed");
  });

  test("a failed subflow nobody awaited fails the parent, naming it", async () => {
    const r = await flow({ name: "parent-forgets" }, async () => {
      failingChild();
    }).run();

    expect(r.state.type).toBe("Failed");
    expect(r.state.message).toBe("1 task run failed: subflow:failing-child (Failed: lost connection)");
  });

  test("a parent can catch a subflow's failure", async () => {
    const r = await flow({ name: "parent-catches" }, async () =>
      failingChild().then(undefined, () => -1),
    ).run();

    expect(r.state.type).toBe("Success");
    expect(r.result).toBe(-1);
  });

  test("invalid subflow parameters fail its task run before the subflow starts", async () => {
    const reporter = memoryReporter();
    const r = await flow({ name: "parent-bad-params" }, async () => {
      await child({ n: "four" } as never);
    }).run(undefined, { reporter });

    expect(r.state.type).toBe("Failed");
    expect(r.taskRuns[0]!.state?.error).toMatchObject({ code: "INVALID_PARAMETERS" });
    expect(createdFlowRuns(reporter.events).map((f) => f.flowName)).toEqual(["parent-bad-params"]);
  });
});
