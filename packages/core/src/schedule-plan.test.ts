import { describe, expect, it } from "vitest";
import { planScheduledRuns } from "./schedule-plan.js";
import type { CatchUp, Schedule } from "./schedules.js";

const hourly = (catchup?: CatchUp): Schedule => ({
  clocks: [{ type: "interval", every: "1h" }],
  ...(catchup ? { catchup } : {}),
});
const at = (iso: string) => new Date(iso);
const hours = (first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => {
    const h = first + i;
    return `2026-01-${String(1 + Math.floor(h / 24)).padStart(2, "0")}T${String(h % 24).padStart(2, "0")}:00:00.000Z`;
  });

describe("planScheduledRuns", () => {
  it.each([
    {
      what: "a new schedule: the next 10 fire times after now, nothing before",
      schedule: hourly(),
      through: null,
      now: "2026-01-01T00:30:00Z",
      ahead: 10,
      create: hours(1, 10),
      through_: "2026-01-01T10:00:00.000Z",
      due: "2026-01-01T01:00:00.000Z",
    },
    {
      what: "all runs ahead exist: nothing to create, come back when the first falls due",
      schedule: hourly(),
      through: "2026-01-01T10:00:00Z",
      now: "2026-01-01T00:30:00Z",
      ahead: 10,
      create: [],
      through_: "2026-01-01T10:00:00.000Z",
      due: "2026-01-01T01:00:00.000Z",
    },
    {
      what: "one run fell due: top up by one",
      schedule: hourly(),
      through: "2026-01-01T10:00:00Z",
      now: "2026-01-01T01:00:05Z",
      ahead: 10,
      create: hours(11, 11),
      through_: "2026-01-01T11:00:00.000Z",
      due: "2026-01-01T02:00:00.000Z",
    },
    {
      what: "a fire time equal to now is not upcoming (it was created before, or is missed)",
      schedule: hourly(),
      through: "2026-01-01T03:00:00Z",
      now: "2026-01-01T03:00:00Z",
      ahead: 2,
      create: hours(4, 5),
      through_: "2026-01-01T05:00:00.000Z",
      due: "2026-01-01T04:00:00.000Z",
    },
    {
      what: "downtime, catchup latest (the default): the most recent missed time, then the runs ahead",
      schedule: hourly(),
      through: "2026-01-01T02:00:00Z",
      now: "2026-01-01T07:30:00Z",
      ahead: 2,
      create: hours(7, 9),
      through_: "2026-01-01T09:00:00.000Z",
      due: "2026-01-01T08:00:00.000Z",
    },
    {
      what: "downtime, catchup all: every missed time, then the runs ahead",
      schedule: hourly("all"),
      through: "2026-01-01T02:00:00Z",
      now: "2026-01-01T07:30:00Z",
      ahead: 2,
      create: hours(3, 9),
      through_: "2026-01-01T09:00:00.000Z",
      due: "2026-01-01T08:00:00.000Z",
    },
    {
      what: "downtime, catchup skip: only the runs ahead",
      schedule: hourly("skip"),
      through: "2026-01-01T02:00:00Z",
      now: "2026-01-01T07:30:00Z",
      ahead: 2,
      create: hours(8, 9),
      through_: "2026-01-01T09:00:00.000Z",
      due: "2026-01-01T08:00:00.000Z",
    },
    {
      what: "downtime shorter than the runs kept ahead: nothing was missed",
      schedule: hourly("all"),
      through: "2026-01-01T10:00:00Z",
      now: "2026-01-01T07:30:00Z",
      ahead: 10,
      create: hours(11, 17),
      through_: "2026-01-01T17:00:00.000Z",
      due: "2026-01-01T08:00:00.000Z",
    },
    {
      what: "a missed time equal to now is created (it is due now)",
      schedule: hourly("latest"),
      through: "2026-01-01T02:00:00Z",
      now: "2026-01-01T07:00:00Z",
      ahead: 1,
      create: hours(7, 8),
      through_: "2026-01-01T08:00:00.000Z",
      due: "2026-01-01T08:00:00.000Z",
    },
  ])("$what", async ({ schedule, through, now, ahead, create, through_, due }) => {
    const plan = await planScheduledRuns({
      schedule,
      through: through ? at(through) : null,
      now: at(now),
      ahead,
    });
    expect(plan.create.map((f) => f.at.toISOString())).toEqual(create);
    expect(plan.through?.toISOString()).toBe(through_);
    expect(plan.due?.toISOString()).toBe(due);
  });

  it("catches up the latest missed time of each clock, with that clock's parameters", async () => {
    const plan = await planScheduledRuns({
      schedule: {
        clocks: [
          { type: "cron", cron: "0 * * * *", parameters: { kind: "hourly" } },
          { type: "cron", cron: "0 0 * * *", parameters: { kind: "daily" } },
        ],
      },
      through: at("2025-12-30T12:00:00Z"),
      now: at("2026-01-01T05:10:00Z"),
      ahead: 1,
    });
    expect(plan.create.map((f) => [f.at.toISOString(), f.clock, f.parameters.kind])).toEqual([
      ["2026-01-01T00:00:00.000Z", 1, "daily"],
      ["2026-01-01T05:00:00.000Z", 0, "hourly"],
      ["2026-01-01T06:00:00.000Z", 0, "hourly"],
    ]);
  });

  it("finds the latest missed time of a frequent clock after a long downtime, and none when none passed", async () => {
    const everyMinute: Schedule = { clocks: [{ type: "cron", cron: "* * * * *" }] };
    const long = await planScheduledRuns({
      schedule: everyMinute,
      through: at("2025-06-01T00:00:00Z"),
      now: at("2026-01-01T05:10:30Z"),
      ahead: 1,
    });
    expect(long.create.map((f) => f.at.toISOString())).toEqual([
      "2026-01-01T05:10:00.000Z",
      "2026-01-01T05:11:00.000Z",
    ]);
    const yearly: Schedule = { clocks: [{ type: "cron", cron: "0 0 1 7 *" }] };
    const none = await planScheduledRuns({
      schedule: yearly,
      through: at("2026-01-01T00:00:00Z"),
      now: at("2026-03-01T00:00:00Z"),
      ahead: 1,
    });
    expect(none.create.map((f) => f.at.toISOString())).toEqual(["2026-07-01T00:00:00.000Z"]);
  });

  it("creates at most 1,000 missed runs per plan under catchup all, and asks to be planned again at once", async () => {
    const now = at("2026-01-10T00:00:00Z");
    const first = await planScheduledRuns({
      schedule: { clocks: [{ type: "interval", every: "1m" }], catchup: "all" },
      through: at("2026-01-01T00:00:00Z"),
      now,
    });
    expect(first.create).toHaveLength(1000);
    expect(first.through?.toISOString()).toBe("2026-01-01T16:40:00.000Z");
    expect(first.due).toEqual(now);
  });

  it("has nothing due once a schedule has no more fire times", async () => {
    const plan = await planScheduledRuns({
      schedule: { clocks: [{ type: "rrule", rrule: "DTSTART:20260101T090000\nRRULE:FREQ=DAILY;COUNT=2" }] },
      through: null,
      now: at("2026-01-05T00:00:00Z"),
    });
    expect(plan).toEqual({ create: [], through: null, due: null });
  });
});
