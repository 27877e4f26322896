import {
  type FireTime,
  InvalidUsageError,
  MAX_FIRE_TIMES,
  nextFireTimes,
  RegentError,
  type Schedule,
  type SchedulePlan,
} from "@regent/core";
import { sql, type Transaction } from "kysely";
import { decodeRow, encodeValue, toIsoTimestamp } from "../db/codec.js";
import type { Database, Dialect, RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { ServerEvents } from "../events.js";
import { newRunRows } from "./run-rows.js";
import type { Clock, Store } from "./store.js";

/** Runs per INSERT when the scheduler or a backfill creates runs (well under the bound-value limits). */
const RUNS_PER_INSERT = 500;
/** Plans recorded per UPDATE (four bound values each). */
const PLANS_PER_UPDATE = 1_000;

/** The key that makes a scheduled run unique per flow version: its clock and fire time. */
export const scheduledRunKey = (fire: Pick<FireTime, "clock" | "at">): string =>
  `schedule:${fire.clock}:${fire.at.toISOString()}`;

/**
 * Removes a flow version's Scheduled runs that its scheduler created and that are not due yet: what
 * turning a schedule off, archiving and registering a newer version do. Runs already due stay (they are
 * late, or about to be claimed).
 */
export async function removeUpcomingAutoRuns(
  tx: Transaction<Database>,
  dialect: Dialect,
  flowIds: readonly string[],
  now: string,
): Promise<number> {
  if (flowIds.length === 0) return 0;
  const result = await tx
    .deleteFrom("flow_run")
    .where("flow_id", "in", flowIds)
    .where("auto_scheduled", "=", encodeValue("bool", dialect, true) as never)
    .where("state", "=", "Scheduled")
    .where("scheduled_start_time", ">", now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export interface PlannedSchedule {
  readonly flow: Row<"flow">;
  readonly plan: SchedulePlan;
}

export interface BackfillInput {
  readonly flowId?: string | null;
  readonly versionGroupId?: string | null;
  /** First fire time included (ISO 8601). */
  readonly start: string;
  /** Last fire time included (ISO 8601). */
  readonly end: string;
  /** Only count what would be created. */
  readonly dryRun?: boolean | null;
}

export interface BackfillResult {
  readonly flow: Row<"flow">;
  /** Fire times of the schedule in this call's part of the window. */
  readonly fireTimes: number;
  readonly createdIds: readonly string[];
  /** Fire times that already had a run (the scheduler's, or an earlier backfill's). */
  readonly existing: number;
  /** Where the next call starts when the window held more than one call creates; null when done. */
  readonly nextStart: string | null;
}

interface CreatedRun {
  readonly id: string;
  readonly labels: readonly string[];
  /** Scheduled start time, ISO 8601 normal form. */
  readonly at: string;
}

/** The scheduler's and backfill's reads and writes. */
export class Scheduling {
  constructor(
    private readonly database: Pick<RegentDatabase, "db" | "dialect">,
    private readonly store: Store,
    private readonly clock: Clock = () => new Date(),
    private readonly events?: ServerEvents,
  ) {}

  private get db() {
    return this.database.db;
  }

  /** Flows whose schedule is due for planning, longest waiting first. */
  async dueSchedules(now: Date, limit: number): Promise<Row<"flow">[]> {
    const rows = await this.db
      .selectFrom("flow")
      .selectAll()
      .where("schedule_due", "<=", now.toISOString())
      .where("schedule_active", "=", encodeValue("bool", this.database.dialect, true) as never)
      .where("archived", "=", encodeValue("bool", this.database.dialect, false) as never)
      .orderBy("schedule_due")
      .limit(limit)
      .execute();
    return rows.map((r) => decodeRow("flow", r));
  }

  /**
   * Creates the runs of several plans in one transaction. Each flow's plan applies only if the flow is
   * still as it was read (same `schedule_due`, active, unarchived): a schedule turned off or a flow
   * re-registered meanwhile is left alone. Runs are keyed by clock and fire time, so a plan made twice
   * (a second replica, a restart) creates nothing the second time.
   */
  async createPlannedRuns(planned: readonly PlannedSchedule[]): Promise<{ created: number }> {
    const now = this.clock().toISOString();
    const due: CreatedRun[] = [];
    const created = await this.db.transaction().execute(async (tx) => {
      const rows: ReturnType<typeof newRunRows>[] = [];
      for (let i = 0; i < planned.length; i += PLANS_PER_UPDATE) {
        const chunk = planned.slice(i, i + PLANS_PER_UPDATE);
        const applied = new Set(await this.recordPlans(tx, chunk));
        for (const { flow, plan } of chunk) {
          if (!applied.has(flow.id as string)) continue;
          for (const fire of plan.create) rows.push(this.runRows(flow, fire, now, true));
        }
      }
      return this.insertRuns(tx, rows, due);
    });
    this.publishDue(due, now);
    return { created };
  }

  /**
   * Records each plan's `through` and `due` on its flow, in one UPDATE, where the flow is still as it was
   * read (same `schedule_due`, active, unarchived); returns the ids of the flows updated.
   */
  private async recordPlans(
    tx: Transaction<Database>,
    planned: readonly PlannedSchedule[],
  ): Promise<string[]> {
    const pg = this.database.dialect === "postgres";
    // PostgreSQL reads VALUES parameters as text: cast them to the columns' types; SQLite compares as is.
    const as = (value: string | null, type: "uuid" | "timestamptz") =>
      pg ? sql`cast(${value} as ${sql.raw(type)})` : sql`${value}`;
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    const values = sql.join(
      planned.map(
        ({ flow, plan }) =>
          sql`(${as(flow.id as string, "uuid")}, ${as(flow.schedule_due, "timestamptz")}, ${as(iso(plan.through), "timestamptz")}, ${as(iso(plan.due), "timestamptz")})`,
      ),
    );
    const yes = encodeValue("bool", this.database.dialect, true);
    const no = encodeValue("bool", this.database.dialect, false);
    const result = await sql<{ id: string }>`
      with v(id, prev, through, due) as (values ${values})
      update flow set schedule_through = v.through, schedule_due = v.due
      from v
      where flow.id = v.id and flow.schedule_due = v.prev and flow.schedule_active = ${yes} and flow.archived = ${no}
      returning flow.id`.execute(tx);
    return result.rows.map((r) => r.id);
  }

  /**
   * The runs a flow's schedule would have created for its fire times from `start` to `end` (both
   * included), at most 1,000 per call (`nextStart` says where to go on). A fire time that already has a
   * run in the flow's version group is left as it is, so a backfill can be repeated or overlap the
   * scheduler's runs without duplicates.
   */
  async backfill(input: BackfillInput): Promise<BackfillResult> {
    const flow = await this.store.runnableFlow(input, "backfill_flow_runs");
    if (!flow.schedule) {
      throw new RegentError(
        "INVALID_USAGE",
        `flow ${flow.name} has no schedule: a backfill creates the runs its schedule would have created; give the flow a schedule option and register it again`,
      );
    }
    const start = Date.parse(toIsoTimestamp(input.start));
    const end = Date.parse(toIsoTimestamp(input.end));
    if (start > end) throw new InvalidUsageError(`start (${input.start}) is after end (${input.end})`);
    const page = await nextFireTimes(flow.schedule as Schedule, new Date(start - 1), MAX_FIRE_TIMES);
    const fires = page.filter((f) => f.at.getTime() <= end);
    const more = page.length === MAX_FIRE_TIMES && fires.length === page.length && page.length > 0;
    const nextStart = more ? new Date(fires[fires.length - 1]!.at.getTime() + 1).toISOString() : null;
    const keys = fires.map(scheduledRunKey);
    const taken = new Set<string>();
    if (keys.length > 0) {
      const rows = await this.db
        .selectFrom("flow_run")
        .innerJoin("flow", "flow.id", "flow_run.flow_id")
        .select("flow_run.idempotency_key")
        .where("flow.version_group_id", "=", flow.version_group_id as string)
        .where("flow_run.idempotency_key", "in", keys)
        .execute();
      for (const r of rows) if (r.idempotency_key) taken.add(r.idempotency_key);
    }
    const fresh = fires.filter((f) => !taken.has(scheduledRunKey(f)));
    if (input.dryRun || fresh.length === 0) {
      return { flow, fireTimes: fires.length, createdIds: [], existing: taken.size, nextStart };
    }
    const now = this.clock().toISOString();
    const due: CreatedRun[] = [];
    await this.db.transaction().execute((tx) =>
      this.insertRuns(
        tx,
        fresh.map((f) => this.runRows(flow, f, now, false)),
        due,
      ),
    );
    this.publishDue(due, now);
    return {
      flow,
      fireTimes: fires.length,
      createdIds: due.map((d) => d.id),
      existing: fires.length - due.length,
      nextStart,
    };
  }

  private runRows(flow: Row<"flow">, fire: FireTime, now: string, auto: boolean) {
    return newRunRows(this.database.dialect, {
      flow,
      parameters: { ...fire.parameters },
      labels: fire.labels ?? null,
      scheduledStartTime: fire.at.toISOString(),
      idempotencyKey: scheduledRunKey(fire),
      autoScheduled: auto,
      message: auto ? `scheduled by clock ${fire.clock + 1}` : `backfill of clock ${fire.clock + 1}`,
      now,
    });
  }

  /** Inserts runs (skipping any whose key exists) and the first state of those inserted. */
  private async insertRuns(
    tx: Transaction<Database>,
    rows: readonly ReturnType<typeof newRunRows>[],
    inserted: CreatedRun[],
  ): Promise<number> {
    let count = 0;
    for (let i = 0; i < rows.length; i += RUNS_PER_INSERT) {
      const chunk = rows.slice(i, i + RUNS_PER_INSERT);
      const ids = await tx
        .insertInto("flow_run")
        .values(chunk.map((r) => r.flowRun) as never)
        .onConflict((oc) =>
          oc.columns(["flow_id", "idempotency_key"]).where("idempotency_key", "is not", null).doNothing(),
        )
        .returning(["id", "labels", "scheduled_start_time"])
        .execute();
      if (ids.length === 0) continue;
      const fresh = new Set(ids.map((r) => r.id));
      await tx
        .insertInto("flow_run_state")
        .values(chunk.filter((r) => fresh.has(r.id)).map((r) => r.state) as never)
        .execute();
      for (const r of ids) {
        const run = decodeRow("flow_run", r as Record<string, unknown>);
        inserted.push({
          id: run.id as string,
          labels: run.labels as string[],
          at: run.scheduled_start_time as string,
        });
      }
      count += ids.length;
    }
    return count;
  }

  /** Wakes agents for created runs that are due already (caught up, backfilled). */
  private publishDue(runs: readonly CreatedRun[], now: string): void {
    for (const run of runs)
      if (run.at <= now) this.events?.publish("claimable", { flow_run_id: run.id, labels: run.labels });
  }
}
