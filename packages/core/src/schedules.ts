import { z } from "zod";
import { type Duration, parseDuration } from "./durations.js";
import { InvalidUsageError } from "./errors.js";

// Schedules: the clocks that say when a flow's runs are due. Pure: "the next N fire times after t" for a
// schedule is a function of the schedule and t. The libraries that do the calendar work (croner for cron,
// rrule for RFC 5545) are loaded on first use, so that a process which never evaluates a schedule (an
// executor, an idle server) does not hold them: rrule alone is ~8 MB of resident memory.

const ClockExtras = {
  /** Parameter values for runs of this clock, over the flow's defaults. */
  parameters: z.record(z.string(), z.unknown()).optional(),
  /** Labels for runs of this clock, instead of the flow's. */
  labels: z.array(z.string()).optional(),
};

/** A cron expression (5 fields, or 6 with seconds), read in a time zone (IANA name; UTC by default). */
export const CronClockSchema = z.object({
  type: z.literal("cron"),
  cron: z.string().min(1),
  timezone: z.string().min(1).optional(),
  ...ClockExtras,
});

/** Every fixed duration, counted from an anchor instant (default 1970-01-01T00:00:00Z): absolute time, no DST. */
export const IntervalClockSchema = z.object({
  type: z.literal("interval"),
  every: z.union([z.string(), z.number()]),
  anchor: z.iso.datetime({ offset: true }).optional(),
  ...ClockExtras,
});

/**
 * An RFC 5545 recurrence: a `DTSTART` line in local time and an `RRULE` line; the zone is the DTSTART's
 * `TZID=…` or `timezone` (UTC by default).
 */
export const RRuleClockSchema = z.object({
  type: z.literal("rrule"),
  rrule: z.string().min(1),
  timezone: z.string().min(1).optional(),
  ...ClockExtras,
});

export const ScheduleClockSchema = z.discriminatedUnion("type", [
  CronClockSchema,
  IntervalClockSchema,
  RRuleClockSchema,
]);
export type ScheduleClock = z.infer<typeof ScheduleClockSchema>;

/**
 * What the scheduler does with fire times that passed while no run was created for them (the server was
 * down longer than the runs it keeps ahead): create a run for each (`all`), for the most recent one of
 * each clock (`latest`, the default), or for none (`skip`).
 */
export const CatchUpSchema = z.enum(["all", "latest", "skip"]);
export type CatchUp = z.infer<typeof CatchUpSchema>;

/** A flow's schedule: one or more clocks, each with its own parameter values and labels. */
export const ScheduleSchema = z.object({
  clocks: z.array(ScheduleClockSchema).min(1, "a schedule needs at least one clock"),
  catchup: CatchUpSchema.optional(),
});
export type Schedule = z.infer<typeof ScheduleSchema>;

/** What a flow's `schedule` option takes: one clock, a list of clocks, or a whole schedule. */
export type ScheduleInput = Schedule | ScheduleClock | readonly ScheduleClock[];

type ClockOptions = { parameters?: Record<string, unknown>; labels?: string[] };

/** A cron clock: `cron("0 9 * * 1-5", { timezone: "Europe/Paris" })`. */
export const cron = (
  expression: string,
  options: ClockOptions & { timezone?: string } = {},
): ScheduleClock => ({
  type: "cron",
  cron: expression,
  ...options,
});

/** An interval clock: `interval("1h", { anchor: "2026-01-01T00:15:00Z" })` (absolute time). */
export const interval = (
  every: Duration,
  options: ClockOptions & { anchor?: string | Date } = {},
): ScheduleClock => {
  const { anchor, ...rest } = options;
  return {
    type: "interval",
    every,
    ...(anchor === undefined ? {} : { anchor: anchor instanceof Date ? anchor.toISOString() : anchor }),
    ...rest,
  };
};

/** An RFC 5545 clock: `rrule("DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO", { timezone: "Europe/Paris" })`. */
export const rrule = (text: string, options: ClockOptions & { timezone?: string } = {}): ScheduleClock => ({
  type: "rrule",
  rrule: text,
  ...options,
});

/** One time a schedule fires: when, which clock (index into `clocks`), and that clock's values. */
export interface FireTime {
  readonly at: Date;
  readonly clock: number;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly labels: readonly string[] | undefined;
}

const FAR_FUTURE = new Date(Date.UTC(9999, 11, 31));

/** Fire times asked for at once at most: callers page with `after`. */
export const MAX_FIRE_TIMES = 1_000;

type CronModule = typeof import("croner");
type RRuleModule = typeof import("rrule");
let engines: Promise<{ Cron: CronModule["Cron"]; rr: RRuleModule }> | undefined;

function loadEngines() {
  engines ??= (async () => {
    const [{ Cron }, rruleModule] = await Promise.all([import("croner"), import("rrule")]);
    // rrule ships CommonJS: Node hands its exports over as `default`.
    const rr = ((rruleModule as { default?: RRuleModule }).default ?? rruleModule) as RRuleModule;
    return { Cron, rr };
  })();
  return engines;
}

/**
 * Checks a schedule as users write it (a clock, a list of clocks or `{ clocks }`): its shape, then each
 * clock (the cron expression, the time zone, the RFC 5545 text, the interval). Returns it as
 * `{ clocks }`; throws an InvalidUsageError naming every clock that is wrong and why.
 */
export async function checkSchedule(input: unknown): Promise<Schedule> {
  const whole = Array.isArray(input)
    ? { clocks: input }
    : input && typeof input === "object" && "type" in input
      ? { clocks: [input] }
      : input;
  const parsed = ScheduleSchema.safeParse(whole);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "schedule"}: ${i.message}`);
    throw new InvalidUsageError(`invalid schedule: ${issues.join("; ")}`);
  }
  const { Cron, rr } = await loadEngines();
  const problems: string[] = [];
  parsed.data.clocks.forEach((clock, i) => {
    const where = `clock ${i + 1} (${clock.type})`;
    try {
      if (clock.type !== "interval" && clock.timezone) checkTimeZone(clock.timezone);
      switch (clock.type) {
        case "cron":
          cronJob(Cron, clock.cron, clock.timezone);
          break;
        case "interval":
          intervalMs(clock);
          break;
        case "rrule":
          floatingRule(rr, clock);
          break;
      }
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) throw new InvalidUsageError(`invalid schedule: ${problems.join("; ")}`);
  return parsed.data;
}

/**
 * The next `count` times the schedule fires strictly after `after`, earliest first, from all its clocks
 * (a time two clocks share comes once per clock, in clock order). DST follows each standard: a cron time
 * the clocks skip fires at the first minute after the jump, and one they repeat fires once, at its first
 * occurrence; an RFC 5545 time that does not exist is read with the offset before the gap (RFC 5545
 * §3.3.5), and a repeated one is its first occurrence. Intervals are absolute time.
 */
export async function nextFireTimes(schedule: Schedule, after: Date, count: number): Promise<FireTime[]> {
  if (!Number.isInteger(count) || count < 0 || count > MAX_FIRE_TIMES)
    throw new InvalidUsageError(`count must be a whole number from 0 to ${MAX_FIRE_TIMES}, got ${count}`);
  const { Cron, rr } = await loadEngines();
  const all: FireTime[] = [];
  schedule.clocks.forEach((clock, index) => {
    const fire = (at: Date): FireTime => ({
      at,
      clock: index,
      parameters: clock.parameters ?? {},
      labels: clock.labels,
    });
    switch (clock.type) {
      case "cron": {
        const job = cronJob(Cron, clock.cron, clock.timezone);
        for (const at of job.nextRuns(count, after)) all.push(fire(at));
        break;
      }
      case "interval": {
        const every = intervalMs(clock);
        const anchor = clock.anchor ? Date.parse(clock.anchor) : 0;
        const first = anchor + Math.max(0, Math.floor((after.getTime() - anchor) / every) + 1) * every;
        for (let k = 0; k < count; k++) all.push(fire(new Date(first + k * every)));
        break;
      }
      case "rrule": {
        const { rule, zone } = floatingRule(rr, clock);
        // Occurrences are wall times in the zone (written as UTC, rrule's "floating" form). Start 3 hours
        // early in wall time (more than any DST shift) and keep those that fall after `after`, in one pass
        // (rrule walks every occurrence from DTSTART on: a rule firing every minute for years is slow to
        // evaluate; cron and interval clocks are for those).
        const from = new Date(wallTime(after, zone).getTime() - 3 * 3_600_000);
        let found = 0;
        if (count > 0)
          rule.between(from, FAR_FUTURE, false, (wall) => {
            const at = instantOfWallTime(Cron, wall, zone);
            if (at.getTime() > after.getTime()) {
              all.push(fire(at));
              found++;
            }
            return found < count;
          });
        break;
      }
    }
  });
  all.sort((a, b) => a.at.getTime() - b.at.getTime() || a.clock - b.clock);
  return all.slice(0, count);
}

const UTC_ZONES = new Set(["UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z"]);
/** Parsed cron jobs by expression and zone: the scheduler plans the same few expressions over and over. */
const cronJobs = new Map<string, InstanceType<CronModule["Cron"]>>();
const MAX_CRON_JOBS = 10_000;

/**
 * A paused croner job for an expression in a zone (its `nextRuns(n, after)` reads no job state). UTC is
 * given as a fixed offset: croner then skips the Intl time-zone conversions, five times faster.
 */
function cronJob(Cron: CronModule["Cron"], expression: string, zone: string | undefined) {
  const key = `${zone ?? ""}\n${expression}`;
  let job = cronJobs.get(key);
  if (!job) {
    const where = !zone || UTC_ZONES.has(zone) ? { utcOffset: 0 } : { timezone: zone };
    job = new Cron(expression, { ...where, paused: true });
    if (cronJobs.size >= MAX_CRON_JOBS) cronJobs.clear();
    cronJobs.set(key, job);
  }
  return job;
}

function intervalMs(clock: z.infer<typeof IntervalClockSchema>): number {
  const every = parseDuration(clock.every, "every");
  if (every < 1_000)
    throw new InvalidUsageError(`every must be at least 1s, got ${JSON.stringify(clock.every)}`);
  return every;
}

/** Zones Intl has accepted (making a DateTimeFormat to check one costs ~0.1 ms). */
const knownZones = new Set<string>();

function checkTimeZone(zone: string): void {
  if (knownZones.has(zone)) return;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    knownZones.add(zone);
  } catch {
    throw new InvalidUsageError(`unknown time zone "${zone}" (an IANA name such as "Europe/Paris")`);
  }
}

/** The clock's rule in floating time (wall times written as UTC), and the zone those walls are in. */
function floatingRule(rr: RRuleModule, clock: z.infer<typeof RRuleClockSchema>) {
  let parsed: ReturnType<RRuleModule["RRule"]["parseString"]>;
  try {
    parsed = rr.RRule.parseString(clock.rrule.trim());
  } catch (error) {
    throw new InvalidUsageError(`not an RFC 5545 recurrence: ${(error as Error).message}`);
  }
  const zone = parsed.tzid ?? clock.timezone ?? "UTC";
  if (parsed.tzid && clock.timezone && parsed.tzid !== clock.timezone)
    throw new InvalidUsageError(
      `DTSTART says TZID=${parsed.tzid} and timezone says ${clock.timezone}: give the zone once`,
    );
  checkTimeZone(zone);
  if (!parsed.dtstart) throw new InvalidUsageError("an RFC 5545 recurrence needs a DTSTART line");
  if (parsed.freq === undefined)
    throw new InvalidUsageError("an RFC 5545 recurrence needs an RRULE with FREQ");
  // rrule reads a DTSTART without Z as local wall time already written as UTC; with TZID it would apply
  // the zone itself (wrongly across DST changes), so the zone is taken off here and applied by croner.
  const rule = new rr.RRule({ ...parsed, tzid: null });
  return { rule, zone };
}

/** The wall time in `zone` of an instant, written as UTC (rrule's floating form). */
function wallTime(at: Date, zone: string): Date {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return new Date(
    Date.UTC(
      Number(parts.year),
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    ),
  );
}

/**
 * The instant a wall time in `zone` names, by croner's one-off schedule for it: a time the clocks skip
 * is read with the offset before the gap, a repeated one is its first occurrence (RFC 5545 §3.3.5).
 */
function instantOfWallTime(Cron: CronModule["Cron"], wall: Date, zone: string): Date {
  const local = wall.toISOString().slice(0, 19);
  const at = new Cron(local, { timezone: zone, paused: true }).nextRun(
    new Date(wall.getTime() - 2 * 86_400_000),
  );
  if (!at) throw new InvalidUsageError(`no instant for ${local} in ${zone}`);
  return at;
}
