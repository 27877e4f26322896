import { describe, expect, test } from "vitest";
import { ExecutorAssignmentSchema, needsFreshProcess } from "./executor.js";

describe("needsFreshProcess", () => {
  test.for<{ env: Record<string, string>; want: boolean }>([
    { env: {}, want: false },
    { env: { TZ: "UTC", DATABASE_URL: "x" }, want: false },
    { env: { NODE_OPTIONS: "--max-old-space-size=4096" }, want: true },
    { env: { A: "1", NODE_EXTRA_CA_CERTS: "/ca.pem" }, want: true },
    { env: { UV_THREADPOOL_SIZE: "16" }, want: true },
    { env: { MY_NODE_THING: "1" }, want: false },
    { env: { REGENT__LOG_LEVEL: "debug" }, want: true },
  ])("$env → $want", ({ env, want }) => {
    expect(needsFreshProcess(env)).toBe(want);
  });
});

describe("ExecutorAssignmentSchema", () => {
  test("fills in an empty env and no working directory", () => {
    expect(ExecutorAssignmentSchema.parse({ flow_run_id: "r1" })).toEqual({
      flow_run_id: "r1",
      env: {},
      working_dir: null,
    });
  });
  test.for([
    { name: "no run id", input: { env: {} } },
    { name: "an empty run id", input: { flow_run_id: "" } },
    { name: "an env value that is not a string", input: { flow_run_id: "r", env: { A: 1 } } },
    { name: "an unknown key", input: { flow_run_id: "r", labels: [] } },
  ])("refuses $name", ({ input }) => {
    expect(ExecutorAssignmentSchema.safeParse(input).success).toBe(false);
  });
});
