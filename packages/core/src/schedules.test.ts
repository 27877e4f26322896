import { describe, expect, it } from "vitest";
import { checkSchedule, nextFireTimes, type Schedule, type ScheduleClock } from "./schedules.js";

const iso = (dates: readonly { at: Date }[]) => dates.map((d) => d.at.toISOString());
const times = async (clock: ScheduleClock, after: string, count: number) =>
  iso(await nextFireTimes({ clocks: [clock] }, new Date(after), count));

describe("cron clocks", () => {
  it.each([
    {
      what: "weekdays at 09:00 UTC, from a Friday afternoon",
      clock: { type: "cron", cron: "0 9 * * 1-5" },
      after: "2026-11-27T10:00:00Z",
      expected: ["2026-11-30T09:00:00.000Z", "2026-12-01T09:00:00.000Z"],
    },
    {
      what: "strictly after: a fire time equal to `after` is not repeated",
      clock: { type: "cron", cron: "0 9 * * *" },
      after: "2026-01-01T09:00:00Z",
      expected: ["2026-01-02T09:00:00.000Z"],
    },
    {
      what: "Paris, spring forward: 02:30 does not exist on 29 March; it fires at the first minute after the jump",
      clock: { type: "cron", cron: "30 2 * * *", timezone: "Europe/Paris" },
      after: "2026-03-28T12:00:00Z",
      expected: ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"],
    },
    {
      what: "Paris, fall back: 02:30 happens twice on 25 October; it fires once, at the first",
      clock: { type: "cron", cron: "30 2 * * *", timezone: "Europe/Paris" },
      after: "2026-10-24T12:00:00Z",
      expected: ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
    },
    {
      what: "Paris, fall back: every 30 minutes goes on in real time through the repeated hour",
      clock: { type: "cron", cron: "*/30 * * * *", timezone: "Europe/Paris" },
      after: "2026-10-24T23:50:00Z",
      expected: [
        "2026-10-25T00:00:00.000Z",
        "2026-10-25T00:30:00.000Z",
        "2026-10-25T01:00:00.000Z",
        "2026-10-25T01:30:00.000Z",
      ],
    },
    {
      what: "New York, spring forward on 8 March",
      clock: { type: "cron", cron: "30 2 * * *", timezone: "America/New_York" },
      after: "2026-03-07T12:00:00Z",
      expected: ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"],
    },
    {
      what: "New York, fall back on 1 November: 01:30 once",
      clock: { type: "cron", cron: "30 1 * * *", timezone: "America/New_York" },
      after: "2026-10-31T12:00:00Z",
      expected: ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"],
    },
    {
      what: "Sydney, southern hemisphere: daylight time ends on 5 April, 02:30 once",
      clock: { type: "cron", cron: "30 2 * * *", timezone: "Australia/Sydney" },
      after: "2026-04-03T12:00:00Z",
      expected: ["2026-04-03T15:30:00.000Z", "2026-04-04T15:30:00.000Z", "2026-04-05T16:30:00.000Z"],
    },
  ] as const)("$what", async ({ clock, after, expected }) => {
    expect(await times(clock, after, expected.length)).toEqual(expected);
  });
});

describe("interval clocks", () => {
  it.each([
    {
      what: "every hour from an anchor at :15",
      clock: { type: "interval", every: "1h", anchor: "2026-01-01T00:15:00Z" },
      after: "2026-11-27T10:20:00Z",
      expected: ["2026-11-27T11:15:00.000Z", "2026-11-27T12:15:00.000Z"],
    },
    {
      what: "an anchor in the future is the first fire time",
      clock: { type: "interval", every: "1d", anchor: "2027-01-01T06:00:00+01:00" },
      after: "2026-11-27T10:20:00Z",
      expected: ["2027-01-01T05:00:00.000Z", "2027-01-02T05:00:00.000Z"],
    },
    {
      what: "absolute time: 24 hours stay 24 hours across Paris's fall back",
      clock: { type: "interval", every: 86_400_000, anchor: "2026-10-24T10:00:00Z" },
      after: "2026-10-24T10:00:00Z",
      expected: ["2026-10-25T10:00:00.000Z", "2026-10-26T10:00:00.000Z"],
    },
    {
      what: "without an anchor, multiples of the interval since 1970 (UTC)",
      clock: { type: "interval", every: "15m" },
      after: "2026-11-27T10:20:00Z",
      expected: ["2026-11-27T10:30:00.000Z", "2026-11-27T10:45:00.000Z"],
    },
  ] as const)("$what", async ({ clock, after, expected }) => {
    expect(await times(clock, after, expected.length)).toEqual(expected);
  });
});

describe("RFC 5545 clocks", () => {
  it.each([
    {
      what: "daily at 02:00 Paris: the spring-forward gap is read with the offset before it",
      clock: { type: "rrule", rrule: "DTSTART:20260320T020000\nRRULE:FREQ=DAILY", timezone: "Europe/Paris" },
      after: "2026-03-27T12:00:00Z",
      expected: ["2026-03-28T01:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:00:00.000Z"],
    },
    {
      what: "daily at 02:30 Paris: the gap's 02:30 is 03:30 summer time; the repeated 02:30 is its first",
      clock: { type: "rrule", rrule: "DTSTART:20260320T023000\nRRULE:FREQ=DAILY", timezone: "Europe/Paris" },
      after: "2026-03-28T12:00:00Z",
      expected: ["2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"],
    },
    {
      what: "the repeated hour on Paris's fall back fires once",
      clock: { type: "rrule", rrule: "DTSTART:20261020T023000\nRRULE:FREQ=DAILY", timezone: "Europe/Paris" },
      after: "2026-10-24T12:00:00Z",
      expected: ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
    },
    {
      what: "the zone given as DTSTART;TZID",
      clock: {
        type: "rrule",
        rrule: "DTSTART;TZID=America/New_York:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO",
      },
      after: "2026-03-01T00:00:00Z",
      expected: ["2026-03-02T14:00:00.000Z", "2026-03-09T13:00:00.000Z"],
    },
    {
      what: "the last weekday of each month at 18:00 UTC",
      clock: {
        type: "rrule",
        rrule: "DTSTART:20260101T180000Z\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
      },
      after: "2026-11-27T10:00:00Z",
      expected: ["2026-11-30T18:00:00.000Z", "2026-12-31T18:00:00.000Z", "2027-01-29T18:00:00.000Z"],
    },
    {
      what: "a COUNT-limited rule ends",
      clock: { type: "rrule", rrule: "DTSTART:20261125T120000Z\nRRULE:FREQ=DAILY;COUNT=3" },
      after: "2026-11-25T13:00:00Z",
      expected: ["2026-11-26T12:00:00.000Z", "2026-11-27T12:00:00.000Z"],
    },
  ] as const)("$what", async ({ clock, after, expected }) => {
    expect(await times(clock, after, expected.length)).toEqual(expected);
  });
});

describe("schedules of several clocks", () => {
  it("merges the clocks in time order, each fire time with its clock's parameters and labels", async () => {
    const schedule: Schedule = {
      clocks: [
        { type: "cron", cron: "0 6 * * *", parameters: { region: "eu" }, labels: ["eu"] },
        { type: "cron", cron: "0 14 * * *", parameters: { region: "us" } },
        { type: "interval", every: "12h", anchor: "2026-01-01T06:00:00Z" },
      ],
    };
    const fires = await nextFireTimes(schedule, new Date("2026-11-27T00:00:00Z"), 5);
    expect(fires.map((f) => [f.at.toISOString(), f.clock, f.parameters, f.labels])).toEqual([
      ["2026-11-27T06:00:00.000Z", 0, { region: "eu" }, ["eu"]],
      ["2026-11-27T06:00:00.000Z", 2, {}, undefined],
      ["2026-11-27T14:00:00.000Z", 1, { region: "us" }, undefined],
      ["2026-11-27T18:00:00.000Z", 2, {}, undefined],
      ["2026-11-28T06:00:00.000Z", 0, { region: "eu" }, ["eu"]],
    ]);
  });

  it("asks for at most 1,000 fire times at once", async () => {
    const schedule: Schedule = { clocks: [{ type: "interval", every: "1m" }] };
    expect(await nextFireTimes(schedule, new Date(0), 0)).toEqual([]);
    await expect(nextFireTimes(schedule, new Date(0), 1_001)).rejects.toThrow(/count must be a whole number/);
  });
});

describe("checkSchedule", () => {
  it("takes a valid schedule as it is", async () => {
    const schedule = { clocks: [{ type: "cron", cron: "0 9 * * 1-5", timezone: "Europe/Paris" }] };
    expect(await checkSchedule(schedule)).toEqual(schedule);
  });

  it.each([
    [{ clocks: [] }, /clocks: a schedule needs at least one clock/],
    [{ clocks: [{ type: "hourly" }] }, /clocks\.0\.type/],
    [{ clocks: [{ type: "cron", cron: "61 * * * *" }] }, /clock 1 \(cron\): .*minute/],
    [
      { clocks: [{ type: "cron", cron: "0 9 * * *", timezone: "Mars/Olympus" }] },
      /unknown time zone "Mars\/Olympus"/,
    ],
    [{ clocks: [{ type: "interval", every: "soon" }] }, /clock 1 \(interval\): every must be/],
    [{ clocks: [{ type: "interval", every: 0 }] }, /every must be at least 1s/],
    [{ clocks: [{ type: "interval", every: "1h", anchor: "yesterday" }] }, /clocks\.0\.anchor/],
    [{ clocks: [{ type: "rrule", rrule: "RRULE:FREQ=DAILY" }] }, /needs a DTSTART/],
    [
      { clocks: [{ type: "rrule", rrule: "DTSTART:20260101T000000Z\nRRULE:FREQ=SOMETIMES" }] },
      /clock 1 \(rrule\)/,
    ],
    [
      {
        clocks: [
          {
            type: "rrule",
            rrule: "DTSTART;TZID=Europe/Paris:20260101T090000\nRRULE:FREQ=DAILY",
            timezone: "Europe/London",
          },
        ],
      },
      /give the zone once/,
    ],
    [
      {
        clocks: [
          { type: "cron", cron: "0 9 * * *" },
          { type: "cron", cron: "0 25 * * *" },
        ],
      },
      /clock 2 \(cron\)/,
    ],
  ])("refuses %j", async (input, message) => {
    await expect(checkSchedule(input)).rejects.toThrow(message);
  });
});

describe("RFC 5545 clocks that fire often", () => {
  it("finds the next times of a rule every minute, a week after its DTSTART", async () => {
    const clock = {
      type: "rrule",
      rrule: "DTSTART:20261120T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=1",
    } as const;
    expect(await times(clock, "2026-11-27T10:20:30Z", 2)).toEqual([
      "2026-11-27T10:21:00.000Z",
      "2026-11-27T10:22:00.000Z",
    ]);
  });
});
