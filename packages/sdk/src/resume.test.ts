import type { RunStateType } from "@regent/core";
import { describe, expect, test } from "vitest";
import {
  type EngineEvent,
  type FlowRunResult,
  flow,
  localResults,
  memoryReporter,
  type PriorTaskRun,
  pause,
  task,
} from "./index.js";
import { keptResult } from "./resume.js";

/**
 * The task runs an execution reported, as the server would hand them to the next one: after a restart
 * (or a resume, whose gates become Success with `input`), every task run without a kept result goes back
 * to Pending — the rule of the server's RunControl, applied here to the events of an in-process run.
 */
function reopened(events: readonly EngineEvent[], resumeInput?: { value?: unknown }): PriorTaskRun[] {
  const runs = new Map<string, { id: string; runKey: string; states: EngineEvent[] }>();
  for (const e of events) {
    if (e.type === "task_run_created")
      runs.set(e.taskRun.id, { id: e.taskRun.id, runKey: e.taskRun.runKey, states: [] });
    if (e.type === "task_run_state") runs.get(e.taskRunId)?.states.push(e);
  }
  return [...runs.values()].map((r) => {
    const last = r.states.at(-1) as Extract<EngineEvent, { type: "task_run_state" }>;
    let state: RunStateType = last.state.type;
    let result = last.state.result;
    if (state === "Paused" && resumeInput) {
      state = "Success";
      result = resumeInput;
    }
    const kept = state === "Success" && (result || last.state.resultRef);
    const stays = kept || state === "Skipped" || state === "Mapped";
    return {
      id: r.id,
      runKey: r.runKey,
      state: stays ? state : "Pending",
      version: r.states.length + (stays ? 0 : 1),
      result,
      resultRef: last.state.resultRef,
    };
  });
}

/** Calls of each task function, by name: what ran again and what was reused. */
function counter() {
  const calls = new Map<string, number>();
  return {
    calls,
    count: (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1),
    of: (name: string) => calls.get(name) ?? 0,
  };
}

const idsByKey = (r: FlowRunResult<unknown>) => new Map(r.taskRuns.map((t) => [t.info.runKey, t.info.id]));

describe("keptResult: what the server can keep and give back unchanged", () => {
  class Row {
    n = 1;
  }
  test.for([
    { name: "nothing returned", value: undefined, kept: {} },
    { name: "null", value: null, kept: { value: null } },
    { name: "a number", value: 42, kept: { value: 42 } },
    {
      name: "nested plain JSON",
      value: { a: [1, "x", { b: true }] },
      kept: { value: { a: [1, "x", { b: true }] } },
    },
    {
      name: "an object without prototype",
      value: Object.assign(Object.create(null), { a: 1 }),
      kept: { value: { a: 1 } },
    },
    { name: "a Date", value: new Date(0), kept: undefined },
    { name: "a Date inside", value: { at: new Date(0) }, kept: undefined },
    { name: "a Map", value: new Map([[1, 2]]), kept: undefined },
    { name: "a class instance", value: [new Row()], kept: undefined },
    { name: "a function inside", value: { f: () => 1 }, kept: undefined },
    { name: "a bigint", value: 1n, kept: undefined },
    { name: "more than 256 KB", value: "x".repeat(256 * 1024), kept: undefined },
  ])("$name", ({ value, kept }) => {
    expect(keptResult(value)).toEqual(kept);
  });
});

describe("restart from the failed task runs", () => {
  test("succeeded task runs are reused under their ids; the failed one and its downstream run again", async () => {
    const c = counter();
    let failLoad = true;
    const extract = task({ name: "extract" }, async () => {
      c.count("extract");
      return [1, 2, 3];
    });
    const transform = task({ name: "transform" }, async (rows: number[]) => {
      c.count("transform");
      return rows.map((n) => n * 10);
    });
    const load = task({ name: "load" }, async (rows: number[]) => {
      c.count("load");
      if (failLoad) throw new Error("the warehouse is down");
      return rows.length;
    });
    const report = task({ name: "report" }, async (n: number) => {
      c.count("report");
      return `loaded ${n}`;
    });
    const etl = flow({ name: "etl" }, async () => report(load(transform(extract()))));

    const first = memoryReporter();
    const r1 = await etl.run(undefined, { reporter: first, keepResults: true });
    expect(r1.state.type).toBe("Failed");
    expect(r1.taskRuns.map((t) => [t.info.runKey, t.state?.type])).toEqual([
      ["extract#1", "Success"],
      ["transform#1", "Success"],
      ["load#1", "Failed"],
      ["report#1", "TriggerFailed"],
    ]);
    expect(r1.taskRuns[0]!.state?.result).toEqual({ value: [1, 2, 3] });

    failLoad = false;
    const second = memoryReporter();
    const r2 = await etl.run(undefined, { reporter: second, previous: reopened(first.events) });
    expect(r2.state.type).toBe("Success");
    expect(r2.result).toBe("loaded 3");
    expect(Object.fromEntries(c.calls)).toEqual({ extract: 1, transform: 1, load: 2, report: 1 });
    expect(idsByKey(r2)).toEqual(idsByKey(r1));
    // Reused task runs write nothing: their server state stays as it was.
    const written = second.events.flatMap((e) => (e.type === "task_run_state" ? [e.taskRunId] : []));
    expect(new Set(written)).toEqual(new Set([r1.taskRuns[2]!.info.id, r1.taskRuns[3]!.info.id]));
  });

  test("a mapped task runs again only its failed children", async () => {
    const c = counter();
    const failing = new Set([2, 4]);
    const square = task({ name: "square" }, async (n: number) => {
      c.count(`square ${n}`);
      if (failing.has(n)) throw new Error(`bad ${n}`);
      return n * n;
    });
    const total = task({ name: "total" }, async (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const f = flow({ name: "squares" }, async () => total(square.map([1, 2, 3, 4])));

    const first = memoryReporter();
    const r1 = await f.run(undefined, { reporter: first, keepResults: true });
    expect(r1.state.type).toBe("Failed");

    failing.clear();
    const second = memoryReporter();
    const r2 = await f.run(undefined, { reporter: second, previous: reopened(first.events) });
    expect(r2.state.type).toBe("Success");
    expect(r2.result).toBe(1 + 4 + 9 + 16);
    expect(Object.fromEntries(c.calls)).toEqual({
      "square 1": 1,
      "square 2": 2,
      "square 3": 1,
      "square 4": 2,
    });
    // The parent stayed Mapped: it is not written again.
    const parentId = r1.taskRuns.find((t) => t.info.runKey === "square#1")!.info.id;
    expect(second.events.some((e) => e.type === "task_run_state" && e.taskRunId === parentId)).toBe(false);
    expect(r2.taskRuns.find((t) => t.info.runKey === "square#1[2]")?.info.id).toBe(
      r1.taskRuns.find((t) => t.info.runKey === "square#1[2]")?.info.id,
    );
  });

  test("run keys count the calls of each task, so a task called twice is matched call by call", async () => {
    const c = counter();
    let fail = true;
    const fetchPage = task({ name: "fetch" }, async (page: number) => {
      c.count(`fetch ${page}`);
      if (page === 2 && fail) throw new Error("timeout");
      return page;
    });
    const f = flow({ name: "pages" }, async () => (await fetchPage(1)) + (await fetchPage(2)));
    const first = memoryReporter();
    await f.run(undefined, { reporter: first, keepResults: true });
    fail = false;
    const r2 = await f.run(undefined, { previous: reopened(first.events) });
    expect(r2.result).toBe(3);
    expect(r2.taskRuns.map((t) => t.info.runKey)).toEqual(["fetch#1", "fetch#2"]);
    expect(Object.fromEntries(c.calls)).toEqual({ "fetch 1": 1, "fetch 2": 2 });
  });

  test("a task returning nothing is kept as such, and reused (a load is not done twice)", async () => {
    const c = counter();
    let fail = true;
    const write = task({ name: "write" }, async () => {
      c.count("write");
    });
    const check = task({ name: "check" }, async () => {
      c.count("check");
      if (fail) throw new Error("not yet");
    });
    const f = flow({ name: "write-then-check" }, async () => {
      await write();
      await check();
    });
    const first = memoryReporter();
    await f.run(undefined, { reporter: first, keepResults: true });
    fail = false;
    expect((await f.run(undefined, { previous: reopened(first.events) })).state.type).toBe("Success");
    expect(Object.fromEntries(c.calls)).toEqual({ write: 1, check: 2 });
  });

  test("a result that cannot be kept (not JSON) is not kept: that task runs again", async () => {
    const c = counter();
    let fail = true;
    const connect = task({ name: "connect" }, async () => {
      c.count("connect");
      return { query: () => 1, opened: new Date() };
    });
    const use = task({ name: "use" }, async (db: { query: () => number; opened: Date }) => {
      c.count("use");
      if (fail) throw new Error("no");
      return db.query();
    });
    const f = flow({ name: "non-json" }, async () => use(connect()));
    const first = memoryReporter();
    const r1 = await f.run(undefined, { reporter: first, keepResults: true });
    expect(r1.taskRuns[0]!.state?.result).toBeUndefined();
    fail = false;
    const r2 = await f.run(undefined, { previous: reopened(first.events) });
    expect(r2.result).toBe(1);
    expect(Object.fromEntries(c.calls)).toEqual({ connect: 2, use: 2 });
  });

  test("results in a result storage are read back from it", async ({ task: t }) => {
    const dir = `${process.env.TMPDIR ?? "/tmp"}/regent-resume-${process.pid}-${t.id}`;
    const c = counter();
    let fail = true;
    const big = task({ name: "big" }, async () => {
      c.count("big");
      return { rows: [1, 2] };
    });
    const after = task({ name: "after" }, async (x: { rows: number[] }) => {
      if (fail) throw new Error("no");
      return x.rows.length;
    });
    const f = flow({ name: "stored", resultStorage: localResults({ dir }) }, async () => after(big()));
    const first = memoryReporter();
    const r1 = await f.run(undefined, { reporter: first });
    expect(r1.taskRuns[0]!.state?.resultRef).toContain(dir);
    fail = false;
    const r2 = await f.run(undefined, { previous: reopened(first.events) });
    expect(r2.result).toBe(2);
    expect(c.of("big")).toBe(1);
  });

  test("a kept result that cannot be read back fails the run with RESULT_NOT_FOUND, naming the task", async () => {
    const a = task({ name: "a" }, async () => 1);
    const b = task({ name: "b" }, async (n: number) => n + 1);
    const f = flow(
      { name: "lost-result", resultStorage: localResults({ dir: "/nonexistent/x" }) },
      async () => b(a()),
    );
    const previous: PriorTaskRun[] = [
      {
        id: "00000000-0000-7000-8000-000000000001",
        runKey: "a#1",
        state: "Success",
        version: 3,
        resultRef: "/nonexistent/x/gone.json",
      },
    ];
    const r = await f.run(undefined, { previous });
    expect(r.state.type).toBe("Failed");
    expect(r.taskRuns[0]!.error).toMatchObject({ code: "RESULT_NOT_FOUND" });
    expect(String((r.taskRuns[0]!.error as Error).message)).toContain("a#1");
  });

  test("a subflow's task runs have keys under the subflow's call, and are reused one by one", async () => {
    const c = counter();
    let fail = true;
    const step = task({ name: "step" }, async (n: number) => {
      c.count(`step ${n}`);
      if (n === 2 && fail) throw new Error("no");
      return n;
    });
    const child = flow({ name: "child" }, async () => (await step(1)) + (await step(2)));
    const parent = flow({ name: "parent" }, async () => (await step(0)) + (await child()));
    const first = memoryReporter();
    await parent.run(undefined, { reporter: first, keepResults: true });
    const keys = first.events.flatMap((e) => (e.type === "task_run_created" ? [e.taskRun.runKey] : []));
    expect(keys).toEqual(["step#1", "subflow:child#1", "subflow:child#1/step#1", "subflow:child#1/step#2"]);
    fail = false;
    const r2 = await parent.run(undefined, { previous: reopened(first.events) });
    expect(r2.result).toBe(3);
    expect(Object.fromEntries(c.calls)).toEqual({ "step 0": 1, "step 1": 1, "step 2": 2 });
  });
});

describe("pause and resume", () => {
  test("a pause stops the run Paused once the started task runs end; resumed, it goes on past the pause", async () => {
    const c = counter();
    const extract = task({ name: "count-rows" }, async () => {
      c.count("extract");
      return 42;
    });
    const side = task({ name: "side" }, async () => {
      c.count("side");
      await new Promise((r) => setTimeout(r, 50));
      return "side done";
    });
    const load = task({ name: "load-approved" }, async (n: number) => {
      c.count("load");
      return n;
    });
    let approval: unknown;
    const f = flow({ name: "approve" }, async () => {
      const n = await extract();
      void side();
      approval = await pause({ name: "approve-load", message: `load ${n} rows?`, timeout: "1h" });
      return load(n);
    });

    const first = memoryReporter();
    const before = Date.now();
    const r1 = await f.run(undefined, { reporter: first, keepResults: true });
    expect(r1.state.type).toBe("Paused");
    expect(r1.state.message).toBe("load 42 rows?");
    const resumeBy = Date.parse(r1.state.data?.resumeBy as string);
    expect(resumeBy).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(resumeBy).toBeLessThanOrEqual(Date.now() + 3_600_000);
    // The side task started before the pause finished first: nothing is left running.
    expect(r1.taskRuns.map((t) => [t.info.runKey, t.state?.type])).toEqual([
      ["count-rows#1", "Success"],
      ["side#1", "Success"],
      ["pause:approve-load#1", "Paused"],
    ]);
    expect(c.of("load")).toBe(0);

    const r2 = await f.run(undefined, {
      previous: reopened(first.events, { value: { approvedBy: "ada" } }),
    });
    expect(r2.state.type).toBe("Success");
    expect(r2.result).toBe(42);
    expect(approval).toEqual({ approvedBy: "ada" });
    expect(Object.fromEntries(c.calls)).toEqual({ extract: 1, side: 1, load: 1 });
  });

  test("a failure wins over a pause: the run fails and the waiting pause ends Cancelled", async () => {
    const broken = task({ name: "broken" }, async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new Error("boom");
    });
    const f = flow({ name: "fail-while-paused" }, async () => {
      void broken();
      await pause();
    });
    const r = await f.run();
    expect(r.state.type).toBe("Failed");
    expect(r.taskRuns.find((t) => t.info.runKey === "pause:pause#1")?.state).toMatchObject({
      type: "Cancelled",
      message: "the flow run ended Failed while paused",
    });
  });

  test("pause() inside a task is refused with a message that says where it belongs", async () => {
    const inner = task({ name: "inner" }, async () => pause());
    const r = await flow({ name: "pause-in-task" }, async () => inner()).run();
    expect(r.state.type).toBe("Failed");
    expect(r.state.message).toContain("not inside a task");
  });

  test("pause() outside a flow run, or with a bad name or timeout, is refused", async () => {
    await expect(pause()).rejects.toThrow("outside a flow run");
    const bad = await flow({ name: "bad-pause" }, async () => pause({ name: "no spaces" })).run();
    expect(bad.state.message).toContain("name must be letters");
    const badTimeout = await flow({ name: "bad-timeout" }, async () =>
      pause({ timeout: "soon" as never }),
    ).run();
    expect(badTimeout.state.message).toContain("timeout");
  });
});
