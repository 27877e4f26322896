import { describe, expect, test } from "vitest";
import { type FlowRunResult, flow, skip, type TaskRunRecord, type Trigger, task } from "./index.js";

function runOf(result: FlowRunResult<unknown>, taskName: string): TaskRunRecord {
  const run = result.taskRuns.find((r) => r.info.taskName === taskName);
  if (!run) throw new Error(`no run of ${taskName}: ${result.taskRuns.map((r) => r.label).join(", ")}`);
  return run;
}

type Outcome = "ok" | "fail";
const upstream = task({ name: "up" }, async (outcome: Outcome) => {
  if (outcome === "fail") throw new Error("up failed");
  return "fine";
});
/** What the downstream received: results, or the message of an upstream's error. */
const shown = (values: unknown) =>
  (values as unknown[]).map((v) => (v instanceof Error ? `Error: ${v.message}` : v));

describe("triggers", () => {
  test.for<{ trigger: Trigger; ups: Outcome[]; runs: boolean }>([
    { trigger: "allSuccessful", ups: ["ok", "ok"], runs: true },
    { trigger: "allSuccessful", ups: ["ok", "fail"], runs: false },
    { trigger: "allFailed", ups: ["fail", "fail"], runs: true },
    { trigger: "allFailed", ups: ["ok", "fail"], runs: false },
    { trigger: "anySuccessful", ups: ["ok", "fail"], runs: true },
    { trigger: "anySuccessful", ups: ["fail", "fail"], runs: false },
    { trigger: "anyFailed", ups: ["ok", "fail"], runs: true },
    { trigger: "anyFailed", ups: ["ok", "ok"], runs: false },
    { trigger: "always", ups: ["fail", "fail"], runs: true },
    { trigger: "always", ups: ["ok", "fail"], runs: true },
  ])("$trigger over upstream $ups → runs: $runs", async ({ trigger, ups, runs }) => {
    const down = task({ name: "down", trigger }, async (values: unknown[]) => values);
    const r = await flow({ name: "triggers" }, async () => {
      down(ups.map((o) => upstream(o)));
    }).run();

    const run = runOf(r, "down");
    expect(run.info.upstream).toHaveLength(2);
    if (runs) {
      expect(run.state?.type).toBe("Success");
      // Failed upstream runs arrive as their Error; the flow is Success since the downstream handled them.
      expect(shown(run.value)).toEqual(ups.map((o) => (o === "ok" ? "fine" : "Error: up failed")));
      expect(r.state.type).toBe("Success");
    } else {
      expect(run.states.map((s) => s.type)).toEqual(["Pending", "TriggerFailed"]);
      expect(run.state?.error).toMatchObject({ code: "TRIGGER_FAILED" });
      expect(run.state?.message).toContain(`trigger ${trigger} was not met`);
      expect(r.state.type).toBe("Failed");
    }
  });
});

describe("skip", () => {
  test("a skipped run skips the runs downstream of it, and the flow still succeeds", async () => {
    let downstreamCalls = 0;
    const maybe = task({ name: "maybe" }, async (): Promise<number> => skip("no new rows"));
    const next = task({ name: "next" }, async (n: number) => {
      downstreamCalls++;
      return n;
    });
    const last = task({ name: "last" }, async (n: number) => {
      downstreamCalls++;
      return n;
    });
    const r = await flow({ name: "skip-chain" }, async () => last(next(maybe()))).run();

    expect(r.state.type).toBe("Success");
    expect(r.result).toBeUndefined();
    expect(downstreamCalls).toBe(0);
    expect(runOf(r, "maybe").states.map((s) => s.type)).toEqual(["Pending", "Running", "Skipped"]);
    expect(runOf(r, "maybe").state?.message).toBe("no new rows");
    for (const name of ["next", "last"]) {
      expect(runOf(r, name).states.map((s) => s.type)).toEqual(["Pending", "Skipped"]);
      expect(runOf(r, name).state?.message).toBe("an upstream task run was skipped");
    }
  });

  test.for<{ trigger: Trigger; skipOnUpstreamSkip: boolean | undefined; expected: string }>([
    { trigger: "allSuccessful", skipOnUpstreamSkip: undefined, expected: "Skipped" },
    { trigger: "always", skipOnUpstreamSkip: undefined, expected: "Skipped" },
    { trigger: "allSuccessful", skipOnUpstreamSkip: false, expected: "Success" },
    { trigger: "allFailed", skipOnUpstreamSkip: false, expected: "TriggerFailed" },
  ])(
    "after a skipped upstream, trigger $trigger with skipOnUpstreamSkip $skipOnUpstreamSkip → $expected",
    async ({ trigger, skipOnUpstreamSkip, expected }) => {
      const maybe = task({ name: "maybe" }, async (): Promise<number> => skip());
      const after = task(
        { name: "after", trigger, ...(skipOnUpstreamSkip === undefined ? {} : { skipOnUpstreamSkip }) },
        async (n: number | undefined) => `ran with ${n}`,
      );
      const r = await flow({ name: "skip-options" }, async () => {
        after(maybe());
      }).run();

      const run = runOf(r, "after");
      expect(run.state?.type).toBe(expected);
      if (expected === "Success") expect(run.value).toBe("ran with undefined");
    },
  );
});
