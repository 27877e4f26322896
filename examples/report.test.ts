import { checkSchedule, nextFireTimes } from "@regent/sdk";
import { describe, expect, test } from "vitest";
import report from "./report.js";

describe("examples/report.ts", () => {
  test("reports on the day it stands for", async () => {
    const run = await report.run({ region: "us" }, { scheduledStartTime: new Date("2026-01-05T11:00:00Z") });
    expect(run.state.type).toBe("Success");
    expect(run.result).toEqual({ day: "us:2026-01-05", rows: 13 });
  });

  test("its schedule fires at 06:00 in Paris and in New York, with each region", async () => {
    const schedule = await checkSchedule(report.options.schedule);
    const next = await nextFireTimes(schedule, new Date("2026-01-05T12:00:00Z"), 4);
    expect(next.map((f) => [f.at.toISOString(), f.parameters.region, f.labels])).toEqual([
      ["2026-01-06T05:00:00.000Z", "eu", undefined],
      ["2026-01-06T11:00:00.000Z", "us", ["us"]],
      ["2026-01-07T05:00:00.000Z", "eu", undefined],
      ["2026-01-07T11:00:00.000Z", "us", ["us"]],
    ]);
  });
});
