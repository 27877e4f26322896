import { type FireTime, MAX_FIRE_TIMES, nextFireTimes, type Schedule } from "./schedules.js";

/** Runs the scheduler keeps created ahead of time for each active schedule. */
export const RUNS_AHEAD = 10;

/** Missed fire times one plan creates at most under `catchup: "all"`; the next plan goes on from there. */
export const MAX_CATCH_UP = MAX_FIRE_TIMES;

export interface SchedulePlanInput {
  readonly schedule: Schedule;
  /** The latest fire time runs were already created up to (null: none yet, the schedule is new). */
  readonly through: Date | null;
  readonly now: Date;
  readonly ahead?: number;
}

export interface SchedulePlan {
  /** Fire times to create runs for, earliest first: the missed ones the catch-up policy keeps, then upcoming ones. */
  readonly create: readonly FireTime[];
  /** The latest fire time runs exist for once `create` is done. */
  readonly through: Date | null;
  /** When to plan this schedule again: when the first upcoming run falls due; null when it never fires again. */
  readonly due: Date | null;
}

/**
 * What the scheduler must create for one schedule, now: the fire times after `through` up to `now` that
 * the catch-up policy keeps (they passed while no run was created), and the upcoming ones up to `ahead`
 * runs after `now` that do not exist yet. Pure: the same input gives the same plan, so planning twice
 * (a restart, a second replica) asks for the same runs, which creation makes idempotent.
 */
export async function planScheduledRuns(input: SchedulePlanInput): Promise<SchedulePlan> {
  const { schedule, through, now } = input;
  const ahead = input.ahead ?? RUNS_AHEAD;
  const create: FireTime[] = [];
  if (through && through.getTime() < now.getTime()) {
    const policy = schedule.catchup ?? "latest";
    if (policy === "all") {
      const missed = (await nextFireTimes(schedule, through, MAX_CATCH_UP)).filter((f) => f.at <= now);
      if (missed.length === MAX_CATCH_UP) {
        // More may have been missed: create these and come back at once for the rest.
        return { create: missed, through: missed[missed.length - 1]!.at, due: now };
      }
      create.push(...missed);
    } else if (policy === "latest") {
      for (const [index, clock] of schedule.clocks.entries()) {
        const last = await lastFireTime({ clocks: [clock] }, through, now);
        if (last) create.push({ ...last, clock: index });
      }
      create.sort((a, b) => a.at.getTime() - b.at.getTime() || a.clock - b.clock);
    }
  }
  const upcoming = await nextFireTimes(schedule, now, ahead);
  const after = Math.max(through?.getTime() ?? 0, now.getTime());
  for (const f of upcoming) if (f.at.getTime() > after) create.push(f);
  const newest = create.length > 0 ? create[create.length - 1]!.at : null;
  return {
    create,
    through: newest && (!through || newest > through) ? newest : through,
    due: upcoming[0]?.at ?? null,
  };
}

/** Windows looked back through for the latest missed time, shortest first, so a frequent clock pages little. */
const LOOK_BACK_MS = [3_600_000, 86_400_000, 31 * 86_400_000, 366 * 86_400_000, Number.POSITIVE_INFINITY];

/** The latest fire time of `schedule` in (after, now], or null. */
async function lastFireTime(schedule: Schedule, after: Date, now: Date): Promise<FireTime | null> {
  for (const window of LOOK_BACK_MS) {
    const start = Math.max(after.getTime(), now.getTime() - window);
    let cursor = new Date(start);
    let last: FireTime | null = null;
    for (;;) {
      const page = await nextFireTimes(schedule, cursor, MAX_FIRE_TIMES);
      const due = page.filter((f) => f.at <= now);
      if (due.length > 0) last = due[due.length - 1]!;
      if (due.length < MAX_FIRE_TIMES) break;
      cursor = last!.at;
    }
    if (last || start === after.getTime()) return last;
  }
  return null;
}
