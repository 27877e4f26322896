import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, test, vi } from "vitest";
import { type EngineEvent, flow, type LogRecord, memoryReporter, task } from "./index.js";

const METHODS = ["log", "info", "warn", "error", "debug"] as const;
const ORIGINAL = Object.fromEntries(METHODS.map((m) => [m, console[m]]));

afterEach(() => {
  vi.restoreAllMocks();
  // Hygiene: every run puts the console back as it found it.
  expect(Object.fromEntries(METHODS.map((m) => [m, console[m]]))).toEqual(ORIGINAL);
});

const logsOf = (events: readonly EngineEvent[]): LogRecord[] =>
  events.flatMap((e) => (e.type === "log" ? [e.log] : []));
const brief = ({ level, message, taskRunId }: LogRecord) => ({ level, message, taskRunId });

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("console output", () => {
  test("inside a task, each console method becomes a log record of that task run", async () => {
    const reporter = memoryReporter();
    const chatty = task({ name: "chatty" }, async () => {
      console.log("rows: %d", 3);
      console.info("info", { a: 1 });
      console.warn("warn");
      console.error("error");
      console.debug("debug");
    });
    const r = await flow({ name: "console-task" }, async () => chatty()).run(undefined, { reporter });

    const taskRunId = r.taskRuns[0]!.info.id;
    expect(logsOf(reporter.events).map(brief)).toEqual([
      { level: "info", message: "rows: 3", taskRunId },
      { level: "info", message: "info { a: 1 }", taskRunId },
      { level: "warn", message: "warn", taskRunId },
      { level: "error", message: "error", taskRunId },
      { level: "debug", message: "debug", taskRunId },
    ]);
    expect(logsOf(reporter.events).every((l) => l.flowRunId === r.id)).toBe(true);
  });

  test("in the flow function, console output is a log record of the flow run alone", async () => {
    const reporter = memoryReporter();
    const r = await flow({ name: "console-flow" }, async () => {
      console.log("starting");
    }).run(undefined, { reporter });

    expect(logsOf(reporter.events)).toEqual([
      {
        flowRunId: r.id,
        taskRunId: undefined,
        level: "info",
        message: "starting",
        timestamp: expect.any(Number),
      },
    ]);
  });

  test("console output outside any flow goes to the console, during a run and after it", async () => {
    const spy = vi.spyOn(console, "log").mockImplementation(() => {});
    const reporter = memoryReporter();
    const started = deferred();
    const release = deferred();
    const waiting = task({ name: "waiting" }, async () => {
      console.log("inside");
      started.resolve();
      await release.promise;
    });
    const running = flow({ name: "console-outside" }, async () => waiting()).run(undefined, { reporter });

    await started.promise;
    console.log("outside, during the run");
    release.resolve();
    await running;
    console.log("outside, after the run");

    expect(spy.mock.calls).toEqual([["outside, during the run"], ["outside, after the run"]]);
    expect(logsOf(reporter.events).map((l) => l.message)).toEqual(["inside"]);
    expect(console.log).toBe(spy);
  });

  test("concurrent task runs each get their own lines", async () => {
    const reporter = memoryReporter();
    const step = task({ name: "step" }, async (name: string) => {
      for (let i = 0; i < 3; i++) {
        console.log(`${name} ${i}`);
        await sleep(1);
      }
    });
    const r = await flow({ name: "console-concurrent" }, async () => step.map(["a", "b"])).run(undefined, {
      reporter,
    });

    const idOf = (i: number) => r.taskRuns.find((t) => t.info.mapIndex === i)!.info.id;
    const logs = logsOf(reporter.events);
    expect(logs).toHaveLength(6);
    for (const log of logs) expect(log.taskRunId).toBe(idOf(log.message.startsWith("a") ? 0 : 1));
  });
});

describe("ctx.log", () => {
  test.for(["debug", "info", "warn", "error"] as const)(
    "ctx.log.%s in a task is a %s record of the task run",
    async (level) => {
      const reporter = memoryReporter();
      const logs = task({ name: "logs" }, async (_: undefined, ctx) => {
        ctx.log[level]("%s rows in %dms", "12", 5);
      });
      const r = await flow({ name: "ctx-log" }, async () => logs()).run(undefined, { reporter });

      expect(logsOf(reporter.events).map(brief)).toEqual([
        { level, message: "12 rows in 5ms", taskRunId: r.taskRuns[0]!.info.id },
      ]);
    },
  );

  test("the flow's ctx.log writes records of the flow run", async () => {
    const reporter = memoryReporter();
    const r = await flow({ name: "ctx-log-flow" }, async (_, ctx) => {
      ctx.log.warn("low disk: %d%%", 5);
    }).run(undefined, { reporter });

    expect(logsOf(reporter.events)).toMatchObject([
      { flowRunId: r.id, taskRunId: undefined, level: "warn", message: "low disk: 5%" },
    ]);
  });
});
