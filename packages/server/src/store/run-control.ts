import {
  FAILURE_LIKE_STATES,
  FINAL_STATES,
  InvalidTransitionError,
  InvalidUsageError,
  NotFoundError,
  type RunStateType,
  SUCCESS_LIKE_STATES,
} from "@regent/core";
import type { Transaction } from "kysely";
import { decodeRow, encodeRow } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { StateEvent } from "../events.js";
import type { ZombieTaskRun } from "./lost-runs.js";
import type { Clock, SetStateItem, Store } from "./store.js";

type Tx = Transaction<Database>;

/** Flow-run states a restart starts again from. */
const RESTARTABLE: ReadonlySet<RunStateType> = new Set([...FAILURE_LIKE_STATES, "Cancelled"]);

/** Flow-run states in which an executor holds the run (or is about to): what Lazarus judges. */
const IN_EXECUTOR_HANDS: ReadonlySet<RunStateType> = new Set([
  "Submitted",
  "Running",
  "Retrying",
  "Cancelling",
]);

/** What Lazarus made of a lost execution. */
export interface LostVerdict {
  readonly verdict: "rescheduled" | "failed" | "cancelled" | "superseded" | "unchanged";
  /** The run's state after it. */
  readonly state: string;
  readonly message: string;
}

/** Reads a flow run for update (PostgreSQL row lock; SQLite's single writer). */
async function lockRun(tx: Tx, dialect: string, id: string): Promise<Row<"flow_run">> {
  let query = tx.selectFrom("flow_run").selectAll().where("id", "=", id);
  if (dialect === "postgres") query = query.forUpdate();
  const found = await query.executeTakeFirst();
  if (!found) throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${id}`, { id });
  return decodeRow("flow_run", found);
}

/** The pause() gates of a flow run that wait to be resumed. */
const pausedGates = (tx: Tx, flowRunId: string) =>
  tx
    .selectFrom("task_run")
    .select(["id", "state_version"])
    .where("flow_run_id", "=", flowRunId)
    .where("state", "=", "Paused")
    .execute();

/** Runs an agent may name as held when it releases the rest (more than any agent runs at once). */
const MAX_HELD = 10_000;

/** Paused runs read per query by the expiry loop. */
const PAUSED_PAGE = 1_000;

/** A paused run whose pause has a deadline, as the expiry loop reads it. */
export interface PausedRun {
  readonly id: string;
  readonly version: number;
  readonly resumeBy: string;
}

/**
 * Restart, resume and Lazarus: a finished, paused or lost flow run goes back to its agents, to go on from
 * the results its task runs kept. Task runs that succeeded with a kept result (or were Skipped, or stand for mapped
 * children) are reused by the next execution, which matches them by `run_key`; every other one goes back
 * to Pending and runs again.
 */
export class RunControl {
  constructor(
    private readonly database: RegentDatabase,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  private get db() {
    return this.database.db;
  }

  /** Runs a Failed, Cancelled or TimedOut flow run again from its failed task runs. */
  async restart(id: string): Promise<Row<"flow_run">> {
    return this.reopen(id, "restart", async (tx, run, events) => {
      const state = run.state as RunStateType;
      if (!RESTARTABLE.has(state)) {
        const why =
          state === "Success"
            ? "it succeeded, so there is nothing to restart; start a new run instead"
            : `only a Failed, Cancelled or TimedOut run is restarted${state === "Paused" ? " (resume a Paused one)" : " (cancel it first, or wait for it to end)"}`;
        throw new InvalidTransitionError(state, "Scheduled", why);
      }
      await this.reopenTaskRuns(tx, id, events);
      return { message: "restarted by a user", restart: true };
    });
  }

  /**
   * Approves a Paused flow run: its pause() gates succeed with `input` as their result, and the run is
   * Scheduled again.
   */
  async resume(id: string, input: unknown): Promise<Row<"flow_run">> {
    return this.reopen(id, "resume", async (tx, run, events) => {
      if (run.state !== "Paused")
        throw new InvalidTransitionError(
          run.state as string,
          "Scheduled",
          "only a Paused run is resumed (restart a finished one)",
        );
      const gates = await pausedGates(tx, id);
      const result = input === undefined || input === null ? {} : { value: input };
      await this.write(
        tx,
        "task_run",
        gates.map((g) => ({
          runId: g.id,
          version: g.state_version,
          state: { type: "Success", message: "resumed by a user", data: { result } },
        })),
        events,
      );
      await this.reopenTaskRuns(tx, id, events);
      return { message: "resumed by a user", restart: false };
    });
  }

  /**
   * Paused runs whose deadline (`resumeBy` in the Paused state's data) has passed, up to `limit`: the
   * expiry loop fails them.
   */
  async pausedPast(now: Date, limit: number): Promise<PausedRun[]> {
    // The deadline is in JSON, so every Paused run is read (in pages by id); only those past it count
    // towards `limit`. Reading just the first `limit` would never reach a deadline beyond them.
    const due: PausedRun[] = [];
    for (let after = "00000000-0000-0000-0000-000000000000"; due.length < limit; ) {
      const rows = await this.db
        .selectFrom("flow_run")
        .innerJoin("flow_run_state", (j) =>
          j
            .onRef("flow_run_state.flow_run_id", "=", "flow_run.id")
            .onRef("flow_run_state.version", "=", "flow_run.state_version"),
        )
        .select(["flow_run.id", "flow_run.state_version", "flow_run_state.data"])
        .where("flow_run.state", "=", "Paused")
        .where("flow_run.id", ">", after)
        .orderBy("flow_run.id")
        .limit(PAUSED_PAGE)
        .execute();
      for (const row of rows) {
        const data = decodeRow("flow_run_state", { data: row.data }).data as { resumeBy?: unknown } | null;
        const resumeBy = typeof data?.resumeBy === "string" ? data.resumeBy : undefined;
        if (resumeBy && Date.parse(resumeBy) <= now.getTime() && due.length < limit)
          due.push({ id: row.id, version: row.state_version, resumeBy });
      }
      if (rows.length < PAUSED_PAGE) break;
      after = rows[rows.length - 1]!.id;
    }
    return due;
  }

  /** Fails a paused run (and its gates) whose pause timed out; false when it changed meanwhile. */
  async expire(run: PausedRun, message: string): Promise<boolean> {
    const events: StateEvent[] = [];
    const done = await this.db.transaction().execute(async (tx) => {
      const [result] = await this.write(
        tx,
        "flow_run",
        [{ runId: run.id, version: run.version, state: { type: "Failed", message } }],
        events,
      );
      if (result?.status !== "SUCCESS") return false;
      await this.endUnfinished(tx, run.id, "Failed", message, events);
      return true;
    });
    this.store.publishStates(events);
    return done;
  }

  /**
   * Ends the task runs of a flow run that no executor will end any more (it was cancelled while paused,
   * its pause timed out, its executor is gone for good): every one not final yet.
   */
  async endUnfinished(
    tx: Tx,
    flowRunId: string,
    type: "Failed" | "Cancelled",
    message: string,
    events: StateEvent[],
  ): Promise<void> {
    const rows = await tx
      .selectFrom("task_run")
      .select(["id", "state_version"])
      .where("flow_run_id", "=", flowRunId)
      .where("state", "not in", [...FINAL_STATES])
      .execute();
    await this.write(
      tx,
      "task_run",
      rows.map((r) => ({ runId: r.id, version: r.state_version, state: { type, message } })),
      events,
    );
  }

  /**
   * An agent whose claim went unanswered (the server or the network failed after the claim was taken)
   * gives back what it does not hold: its Submitted runs no executor has spoken for, but those in
   * `holding` (launched by it). They go back to Scheduled as the same execution — never launched, so
   * nothing runs twice — for any agent to claim. The agent asks before it claims again, with no claim of
   * its own in flight, so every run it does not name is one whose answer it never got.
   */
  async releaseUnheld(agentId: string, holding: readonly string[]): Promise<Row<"flow_run">[]> {
    if (holding.length > MAX_HELD)
      throw new InvalidUsageError(`holding names ${holding.length} runs; an agent holds at most ${MAX_HELD}`);
    const agent = await this.store.agentById(agentId);
    const events: StateEvent[] = [];
    const released = await this.db.transaction().execute(async (tx) => {
      let query = tx
        .selectFrom("flow_run")
        .select("id")
        .where("agent_id", "=", agentId)
        .where("state", "=", "Submitted")
        .where("heartbeat", "is", null);
      if (holding.length > 0) query = query.where("id", "not in", [...holding]);
      const ids: string[] = [];
      for (const { id } of await query.execute()) {
        const run = await lockRun(tx, this.database.dialect, id);
        if (run.state !== "Submitted" || run.agent_id !== agentId) continue;
        await this.setRunState(
          tx,
          run,
          {
            type: "Scheduled",
            message: `its agent ${agent.name} never got the answer to its claim; back in the queue, not launched`,
          },
          events,
        );
        await tx
          .updateTable("flow_run")
          .set({ agent_id: null } as never)
          .where("id", "=", id)
          .execute();
        ids.push(id);
      }
      return ids;
    });
    this.store.publishStates(events);
    const rows = await Promise.all(released.map((id) => this.store.flowRunById(id)));
    for (const row of rows) this.store.publishClaimable(row);
    return rows;
  }

  /**
   * The zombie killer: task runs left started in flow runs that ended (a user marked the run while no
   * executor was there to stop them, or the executor died after its run was ended). Each ends Cancelled
   * when its flow run was cancelled, else Failed, saying why; a task run that moved meanwhile is left
   * alone (its version no longer matches). Returns how many were ended.
   */
  async endZombies(zombies: readonly ZombieTaskRun[]): Promise<number> {
    if (zombies.length === 0) return 0;
    const events: StateEvent[] = [];
    const results = await this.db.transaction().execute((tx) =>
      this.write(
        tx,
        "task_run",
        zombies.map((z) => ({
          runId: z.id,
          version: z.version,
          state: {
            type: z.flowRunState === "Cancelled" ? "Cancelled" : "Failed",
            message: `zombie: its flow run ended ${z.flowRunState} at ${z.flowRunEnded} and no executor is running it any more`,
            data: { zombie: true },
          },
        })),
        events,
      ),
    );
    this.store.publishStates(events);
    return results.filter((r) => r.status === "SUCCESS").length;
  }

  /**
   * Lazarus: an execution the server or its agent believes lost — its infrastructure ended without a
   * final state, its heartbeat stopped, or it never started. A run still in an executor's hands is
   * Scheduled again as a new execution while it has restarts left (`max_restarts` of its flow, else
   * `defaultMax`), reusing what its task runs kept; then Failed with the reason, its unfinished task runs
   * with it. One being cancelled ends Cancelled. `execution` (the restart count the reporter saw), when
   * given, must still be the run's: a report about an execution already replaced changes nothing.
   */
  async lost(
    id: string,
    report: { reason: string; execution?: number | undefined; data?: Record<string, unknown> | undefined },
    defaultMax: number,
  ): Promise<LostVerdict> {
    const events: StateEvent[] = [];
    const verdict = await this.db.transaction().execute(async (tx): Promise<LostVerdict> => {
      const run = await lockRun(tx, this.database.dialect, id);
      const state = run.state as RunStateType;
      if (report.execution !== undefined && run.restart_count !== report.execution)
        return { verdict: "superseded", state, message: "the run was started again since" };
      if (!IN_EXECUTOR_HANDS.has(state))
        return { verdict: "unchanged", state, message: `the run is ${state}` };
      const data = { infrastructure: true, ...report.data };
      if (state === "Cancelling") {
        const message = `${report.reason}; it was being cancelled`;
        await this.setRunState(tx, run, { type: "Cancelled", message, data }, events);
        await this.endUnfinished(tx, id, "Cancelled", message, events);
        return { verdict: "cancelled", state: "Cancelled", message };
      }
      const flow = await tx
        .selectFrom("flow")
        .select("max_restarts")
        .where("id", "=", run.flow_id as string)
        .executeTakeFirst();
      const max = flow?.max_restarts ?? defaultMax;
      const done = run.lazarus_count as number;
      if (done < max) {
        const message = `Lazarus: ${report.reason}; rescheduled (restart ${done + 1} of ${max})`;
        await this.reopenTaskRuns(tx, id, events);
        await this.scheduleAgain(tx, run, { message, data: { ...data, lazarus: done + 1 } }, events, {
          lazarus_count: done + 1,
        });
        return { verdict: "rescheduled", state: "Scheduled", message };
      }
      const message =
        max === 0
          ? `${report.reason} (Lazarus is off for this flow: max_restarts 0)`
          : `${report.reason}; Lazarus gave up after ${max} restart${max === 1 ? "" : "s"}`;
      await this.setRunState(tx, run, { type: "Failed", message, data }, events);
      await this.endUnfinished(
        tx,
        id,
        "Failed",
        `its flow run's executor was lost: ${report.reason}`,
        events,
      );
      return { verdict: "failed", state: "Failed", message };
    });
    this.store.publishStates(events);
    if (verdict.verdict === "rescheduled") this.store.publishClaimable(await this.store.flowRunById(id));
    return verdict;
  }

  /** One state write to a locked run, refused writes thrown. */
  private async setRunState(
    tx: Tx,
    run: Row<"flow_run">,
    state: SetStateItem["state"],
    events: StateEvent[],
    options: { restart?: boolean } = {},
  ): Promise<void> {
    const [result] = await this.write(
      tx,
      "flow_run",
      [{ runId: run.id as string, version: run.state_version as number, state }],
      events,
      options,
    );
    if (result?.status !== "SUCCESS")
      throw new InvalidTransitionError(run.state as string, state.type, result?.message ?? "refused");
  }

  /** Schedules a locked run again as a new execution that any agent may take now. */
  private async scheduleAgain(
    tx: Tx,
    run: Row<"flow_run">,
    state: { message: string; data: Record<string, unknown> },
    events: StateEvent[],
    extra: { lazarus_count?: number } = {},
    options: { restart?: boolean } = {},
  ): Promise<void> {
    await this.setRunState(tx, run, { type: "Scheduled", ...state }, events, options);
    await tx
      .updateTable("flow_run")
      .set(
        encodeRow("flow_run", this.database.dialect, {
          restart_count: (run.restart_count as number) + 1,
          scheduled_start_time: this.clock().toISOString(),
          agent_id: null,
          late_reason: null,
          heartbeat: null,
          ...extra,
        }) as never,
      )
      .where("id", "=", run.id as string)
      .execute();
  }

  /** Locks the run, lets `prepare` judge it and reopen its task runs, then Schedules it again. */
  private async reopen(
    id: string,
    what: string,
    prepare: (
      tx: Tx,
      run: Row<"flow_run">,
      events: StateEvent[],
    ) => Promise<{ message: string; restart: boolean }>,
  ): Promise<Row<"flow_run">> {
    const events: StateEvent[] = [];
    const run = await this.db.transaction().execute(async (tx) => {
      const run = await lockRun(tx, this.database.dialect, id);
      const { message, restart } = await prepare(tx, run, events);
      const data = { [what]: (run.restart_count as number) + 1 };
      await this.scheduleAgain(tx, run, { message, data }, events, {}, { restart });
      return decodeRow(
        "flow_run",
        await tx.selectFrom("flow_run").selectAll().where("id", "=", id).executeTakeFirstOrThrow(),
      );
    });
    this.store.publishStates(events);
    this.store.publishClaimable(run);
    return run;
  }

  /**
   * Sends back to Pending every task run of the flow run the next execution cannot reuse: all but those
   * that succeeded with a kept result, were Skipped, or stand for mapped children (whose own children are
   * judged one by one).
   */
  private async reopenTaskRuns(tx: Tx, flowRunId: string, events: StateEvent[]): Promise<void> {
    const reusable = [...SUCCESS_LIKE_STATES].filter((s) => s !== "Success" && s !== "Cached");
    const rows = await tx
      .selectFrom("task_run")
      .select(["id", "state_version"])
      .where("flow_run_id", "=", flowRunId)
      .where("state", "!=", "Pending")
      .where("state", "not in", reusable)
      .where((eb) =>
        eb.or([
          eb("state", "!=", "Success"),
          eb.and([eb("result", "is", null), eb("result_ref", "is", null)]),
        ]),
      )
      .execute();
    await this.write(
      tx,
      "task_run",
      rows.map((r) => ({
        runId: r.id,
        version: r.state_version,
        state: { type: "Pending", message: "to run again: its flow run was started again" },
      })),
      events,
      { restart: true },
    );
  }

  private write(
    tx: Tx,
    table: "flow_run" | "task_run",
    items: SetStateItem[],
    events: StateEvent[],
    options: { restart?: boolean } = {},
  ) {
    if (items.length === 0) return Promise.resolve([]);
    return this.store.applyRunStates(tx, table, items, events, options);
  }
}
