import {
  FAILURE_LIKE_STATES,
  InvalidTransitionError,
  NotFoundError,
  type RunStateType,
  SUCCESS_LIKE_STATES,
} from "@regent/core";
import type { Transaction } from "kysely";
import { decodeRow, encodeRow } from "../db/codec.js";
import type { Database, RegentDatabase } from "../db/database.js";
import type { Row } from "../db/tables.js";
import type { StateEvent } from "../events.js";
import type { Clock, SetStateItem, Store } from "./store.js";

type Tx = Transaction<Database>;

/** Flow-run states a restart starts again from. */
const RESTARTABLE: ReadonlySet<RunStateType> = new Set([...FAILURE_LIKE_STATES, "Cancelled"]);

/** The pause() gates of a flow run that wait to be resumed. */
const pausedGates = (tx: Tx, flowRunId: string) =>
  tx
    .selectFrom("task_run")
    .select(["id", "state_version"])
    .where("flow_run_id", "=", flowRunId)
    .where("state", "=", "Paused")
    .execute();

/** A paused run whose pause has a deadline, as the expiry loop reads it. */
export interface PausedRun {
  readonly id: string;
  readonly version: number;
  readonly resumeBy: string;
}

/**
 * Restart and resume: a finished or paused flow run goes back to its agents, to go on from the results
 * its task runs kept. Task runs that succeeded with a kept result (or were Skipped, or stand for mapped
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
    const rows = await this.db
      .selectFrom("flow_run")
      .innerJoin("flow_run_state", (j) =>
        j
          .onRef("flow_run_state.flow_run_id", "=", "flow_run.id")
          .onRef("flow_run_state.version", "=", "flow_run.state_version"),
      )
      .select(["flow_run.id", "flow_run.state_version", "flow_run_state.data"])
      .where("flow_run.state", "=", "Paused")
      .limit(limit)
      .execute();
    const due: PausedRun[] = [];
    for (const row of rows) {
      const data = decodeRow("flow_run_state", { data: row.data }).data as { resumeBy?: unknown } | null;
      const resumeBy = typeof data?.resumeBy === "string" ? data.resumeBy : undefined;
      if (resumeBy && Date.parse(resumeBy) <= now.getTime())
        due.push({ id: row.id, version: row.state_version, resumeBy });
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
      await this.endGates(tx, run.id, "Failed", message, events);
      return true;
    });
    this.store.publishStates(events);
    return done;
  }

  /** The Paused gates of a flow run that ends while paused (cancelled, timed out) end with it. */
  async endGates(
    tx: Tx,
    flowRunId: string,
    type: "Failed" | "Cancelled",
    message: string,
    events: StateEvent[],
  ): Promise<void> {
    const gates = await pausedGates(tx, flowRunId);
    await this.write(
      tx,
      "task_run",
      gates.map((g) => ({ runId: g.id, version: g.state_version, state: { type, message } })),
      events,
    );
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
      let query = tx.selectFrom("flow_run").selectAll().where("id", "=", id);
      if (this.database.dialect === "postgres") query = query.forUpdate();
      const found = await query.executeTakeFirst();
      if (!found) throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${id}`, { id });
      const run = decodeRow("flow_run", found);
      const { message, restart } = await prepare(tx, run, events);
      const now = this.clock().toISOString();
      const execution = (run.restart_count as number) + 1;
      const [result] = await this.write(
        tx,
        "flow_run",
        [
          {
            runId: id,
            version: run.state_version as number,
            state: { type: "Scheduled", message, data: { [what]: execution } },
          },
        ],
        events,
        { restart },
      );
      if (result?.status !== "SUCCESS")
        throw new InvalidTransitionError(run.state as string, "Scheduled", result?.message ?? what);
      // A new execution: any agent may take it now; the one that ran it before no longer holds it.
      await tx
        .updateTable("flow_run")
        .set(
          encodeRow("flow_run", this.database.dialect, {
            restart_count: execution,
            scheduled_start_time: now,
            agent_id: null,
            late_reason: null,
          }) as never,
        )
        .where("id", "=", id)
        .execute();
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
