import { checkSchedule, planScheduledRuns, RUNS_AHEAD, type SchedulePlan } from "@regent/core";
import type { KyselyPlugin } from "kysely";
import type { RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { ServerEvents } from "../events.js";
import { type PlannedSchedule, Scheduling } from "../store/scheduling.js";
import type { Clock, Store } from "../store/store.js";
import { asLeader } from "./leadership.js";

/** Due schedules planned per transaction. */
const BATCH = 500;
/** Batches per loop at most: a backlog (the first start with thousands of schedules) spreads over loops. */
const MAX_BATCHES = 20;

export interface SchedulerLoop {
  /** False when another replica holds the scheduler's lock (this one did nothing). */
  readonly leader: boolean;
  /** Schedules planned. */
  readonly schedules: number;
  /** Runs created. */
  readonly created: number;
  /** Database queries the loop made (the lock's included). */
  readonly queries: number;
  readonly ms: number;
  /** Of `ms`, the time spent planning (computing fire times), not waiting on the database. */
  readonly planMs: number;
}

export interface SchedulerOptions {
  readonly database: Pick<RegentDatabase, "db" | "dialect">;
  readonly store: Store;
  readonly clock?: Clock;
  readonly events?: ServerEvents;
  /** Runs kept ahead per schedule (10). */
  readonly ahead?: number;
  readonly log?: (line: string) => void;
}

/**
 * The scheduler (DESIGN §5): keeps the next runs of every active schedule created. A loop plans the
 * flows whose `schedule_due` has come (core's planScheduledRuns: catch-up after downtime, then top-up)
 * and creates the runs; a schedule with all its runs ahead costs nothing until its next one falls due.
 */
export class Scheduler {
  private queries = 0;
  private readonly database: Pick<RegentDatabase, "db" | "dialect">;
  private readonly scheduling: Scheduling;
  private readonly clock: Clock;

  constructor(private readonly options: SchedulerOptions) {
    // Every query of the loop passes this plugin, so a loop can report how many it made.
    const counter: KyselyPlugin = {
      transformQuery: (args) => {
        this.queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    this.database = { dialect: options.database.dialect, db: options.database.db.withPlugin(counter) };
    this.clock = options.clock ?? (() => new Date());
    this.scheduling = new Scheduling(this.database, options.store, this.clock, options.events);
  }

  /** One loop: every due schedule planned and its runs created, in batches. */
  async loop(): Promise<SchedulerLoop> {
    const started = performance.now();
    const before = this.queries;
    const done = await asLeader(this.database, "scheduler", async () => {
      let schedules = 0;
      let created = 0;
      let planMs = 0;
      for (let batch = 0; batch < MAX_BATCHES; batch++) {
        const now = this.clock();
        const flows = await this.scheduling.dueSchedules(now, BATCH);
        if (flows.length === 0) break;
        const planned: PlannedSchedule[] = [];
        const planning = performance.now();
        for (const flow of flows) planned.push({ flow, plan: await this.plan(flow, now) });
        planMs += performance.now() - planning;
        created += (await this.scheduling.createPlannedRuns(planned)).created;
        schedules += flows.length;
        if (flows.length < BATCH) break;
      }
      return { schedules, created, planMs };
    });
    return {
      leader: done !== undefined,
      schedules: done?.schedules ?? 0,
      created: done?.created ?? 0,
      queries: this.queries - before,
      ms: performance.now() - started,
      planMs: done?.planMs ?? 0,
    };
  }

  private async plan(flow: Row<"flow">, now: Date): Promise<SchedulePlan> {
    const through = flow.schedule_through ? new Date(flow.schedule_through) : null;
    try {
      const schedule = await checkSchedule(flow.schedule);
      return await planScheduledRuns({ schedule, through, now, ahead: this.options.ahead ?? RUNS_AHEAD });
    } catch (error) {
      // A schedule stored by an older version that no longer checks: left off (not retried every loop).
      this.options.log?.(
        `scheduler: flow ${flow.name} (${flow.id}): ${(error as Error).message}; its schedule stays off until the flow is registered again`,
      );
      return { create: [], through, due: null };
    }
  }
}
