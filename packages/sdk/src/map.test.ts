import { describe, expect, test } from "vitest";
import {
  type FlowRunResult,
  flow,
  skip,
  type TaskFuture,
  type TaskRunRecord,
  task,
  unmapped,
} from "./index.js";

function runOf(result: FlowRunResult<unknown>, taskName: string, mapIndex = -1): TaskRunRecord {
  const run = result.taskRuns.find((r) => r.info.taskName === taskName && r.info.mapIndex === mapIndex);
  if (!run)
    throw new Error(`no run of ${taskName}[${mapIndex}]: ${result.taskRuns.map((r) => r.label).join(", ")}`);
  return run;
}
const childrenOf = (result: FlowRunResult<unknown>, parent: TaskRunRecord) =>
  result.taskRuns.filter((r) => r.info.parentTaskRunId === parent.info.id);
const typesOf = (run: TaskRunRecord) => run.states.map((s) => s.type);
const idOf = (result: FlowRunResult<unknown>, taskName: string) => runOf(result, taskName).info.id;

const double = task({ name: "double" }, async (n: number) => n * 2);
const add = task({ name: "add" }, async ({ x, y }: { x: number; y: number }) => x + y);
const range = task({ name: "range" }, async (n: number) => Array.from({ length: n }, (_, i) => i));
const ten = task({ name: "ten" }, async () => 10);
const broken = task({ name: "broken" }, async (): Promise<number[]> => {
  throw new Error("no list today");
});
const flaky = task({ name: "flaky" }, async (n: number) => {
  if (n === 2) throw new Error("two is bad");
  return n;
});

const runMap = <R>(make: () => TaskFuture<R>) => flow({ name: "map" }, async () => make()).run();

describe("task.map", () => {
  test("one child per item, with its map index, under a Mapped parent", async () => {
    const r = await runMap(() => double.map([1, 2, 3]));

    expect(r.state.type).toBe("Success");
    expect(r.result).toEqual([2, 4, 6]);
    const parent = runOf(r, "double");
    expect(typesOf(parent)).toEqual(["Pending", "Running", "Mapped"]);
    expect(parent.state?.message).toBe("3 mapped task runs");
    expect(parent.value).toEqual([2, 4, 6]);
    const children = childrenOf(r, parent);
    expect(children.map((c) => [c.label, c.info.mapIndex, c.state?.type, c.value])).toEqual([
      ["double[0]", 0, "Success", 2],
      ["double[1]", 1, "Success", 4],
      ["double[2]", 2, "Success", 6],
    ]);
  });

  test("unmapped() passes a constant whole to every child", async () => {
    const r = await runMap(() => add.map({ x: [1, 2, 3], y: unmapped(10) }));

    expect(r.result).toEqual([11, 12, 13]);
    expect(childrenOf(r, runOf(r, "add"))).toHaveLength(3);
  });

  test("unmapped() of a future passes its result to every child, as an upstream", async () => {
    const r = await runMap(() => add.map({ x: [1, 2], y: unmapped(ten()) }));

    expect(r.result).toEqual([11, 12]);
    const parent = runOf(r, "add");
    expect(parent.info.upstream).toEqual([idOf(r, "ten")]);
    for (const child of childrenOf(r, parent)) expect(child.info.upstream).toEqual([idOf(r, "ten")]);
  });

  test("maps over the future of a list", async () => {
    const r = await runMap(() => double.map(range(3)));

    expect(r.result).toEqual([0, 2, 4]);
    const parent = runOf(r, "double");
    expect(parent.info.upstream).toEqual([idOf(r, "range")]);
    const children = childrenOf(r, parent);
    expect(children).toHaveLength(3);
    for (const child of children) expect(child.info.upstream).toEqual([idOf(r, "range")]);
  });

  test("maps over a list of futures, each child downstream of its own", async () => {
    const r = await runMap(() => double.map([double(1), double(2)]));

    expect(r.result).toEqual([4, 8]);
    const parent = r.taskRuns.find((t) => t.info.taskName === "double" && t.state?.type === "Mapped")!;
    expect(parent.info.upstream).toEqual([]);
    const sources = r.taskRuns.filter(
      (t) => t.info.taskName === "double" && t !== parent && t.info.mapIndex === -1,
    );
    expect(childrenOf(r, parent).map((c) => c.info.upstream)).toEqual(sources.map((s) => [s.info.id]));
  });

  test("maps over the result of another map", async () => {
    const r = await runMap(() => double.map(double.map([1, 2])));

    expect(r.result).toEqual([4, 8]);
    expect(r.taskRuns.filter((t) => t.state?.type === "Mapped")).toHaveLength(2);
  });

  test.for([
    { input: "an empty list", make: () => double.map([]) },
    { input: "empty lists beside a constant", make: () => add.map({ x: [], y: unmapped(1) }) },
  ])("$input makes no children and gives []", async ({ make }) => {
    const r = await runMap(make);

    expect(r.state.type).toBe("Success");
    expect(r.result).toEqual([]);
    expect(r.taskRuns).toHaveLength(1);
    expect(typesOf(r.taskRuns[0]!)).toEqual(["Pending", "Running", "Mapped"]);
  });

  test("a child that skips leaves undefined at its index", async () => {
    const picky = task({ name: "picky" }, async (n: number) => (n === 2 ? skip() : n));
    const r = await runMap(() => picky.map([1, 2, 3]));

    expect(r.state.type).toBe("Success");
    expect(r.result).toEqual([1, undefined, 3]);
    expect(runOf(r, "picky", 1).state?.type).toBe("Skipped");
  });
});

describe("task.map errors", () => {
  test.for([
    {
      input: "lists of different lengths",
      make: () => add.map({ x: [1, 2], y: [1] }),
      message: "add.map(): lists differ in length (x: 2, y: 1)",
    },
    {
      input: "a value that is neither a list nor unmapped()",
      make: () => add.map({ x: [1], y: 5 } as never),
      message:
        'add.map(): "y" must be a list, or wrapped in unmapped() to pass it whole to every run (got number)',
    },
    {
      input: "only unmapped() values",
      make: () => add.map({ x: unmapped(1), y: unmapped(2) }),
      message: "add.map() was given no list to map over",
    },
    {
      input: "the future of something other than a list",
      make: () => double.map(ten() as never),
      message: "double.map() needs a list; the upstream task returned number",
    },
  ])("$input fails the parent with INVALID_USAGE", async ({ make, message }) => {
    const r = await runMap(make);

    expect(r.state.type).toBe("Failed");
    expect(r.error).toMatchObject({ code: "INVALID_USAGE", message });
    const parent = r.taskRuns.find((t) => t.info.mapIndex === -1 && t.info.taskName !== "ten")!;
    expect(typesOf(parent)).toEqual(["Pending", "Failed"]);
    expect(childrenOf(r, parent)).toEqual([]);
  });

  test("something other than a list or an object throws at once", async () => {
    const r = await flow({ name: "map-scalar" }, async () => {
      double.map(42 as never);
    }).run();

    expect(r.state.type).toBe("Failed");
    expect(r.error).toMatchObject({ code: "INVALID_USAGE" });
    expect(r.taskRuns).toEqual([]);
  });

  test("a failed upstream list makes the parent TriggerFailed, without children", async () => {
    const r = await runMap(() => double.map(broken()));

    expect(r.state.type).toBe("Failed");
    const parent = runOf(r, "double");
    expect(typesOf(parent)).toEqual(["Pending", "TriggerFailed"]);
    expect(childrenOf(r, parent)).toEqual([]);
  });

  test.for([
    { handling: "awaited", flowState: "Failed" },
    { handling: "awaited and caught", flowState: "Success" },
    { handling: "not awaited", flowState: "Failed" },
  ])(
    "a failed child, $handling → flow $flowState; the siblings still succeed",
    async ({ handling, flowState }) => {
      let rejection: unknown;
      const r = await flow({ name: "map-failure" }, async () => {
        const all = flaky.map([1, 2, 3]);
        if (handling === "awaited") await all;
        if (handling === "awaited and caught") await all.then(undefined, (e) => (rejection = e));
      }).run();

      expect(r.state.type).toBe(flowState);
      const parent = runOf(r, "flaky");
      expect(parent.state?.type).toBe("Mapped");
      expect(childrenOf(r, parent).map((c) => c.state?.type)).toEqual(["Success", "Failed", "Success"]);
      const child = runOf(r, "flaky", 1);
      if (handling === "not awaited") {
        expect(r.state.message).toBe("1 task run failed: flaky[1] (Failed: two is bad)");
        return;
      }
      const error = handling === "awaited" ? r.error : rejection;
      expect(error).toMatchObject({
        code: "TASK_FAILED",
        message: "1 of 3 mapped runs of flaky failed; first: flaky[1]: two is bad",
        cause: child.error,
      });
    },
  );
});
