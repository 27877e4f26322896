import { InvalidUsageError, isFinal, NotFoundError, type RunStateType, serializeError } from "@regent/core";
import { type RawBuilder, sql } from "kysely";
import type { RegentDatabase } from "../db/database.js";
import { TABLES } from "../db/tables.js";
import type { ServerEvents, TaskQueueEvent } from "../events.js";
import type { Clock } from "./store.js";

/** A task execution a flow run's process enqueues: `input` is JSON text the server never reads. */
export interface TaskJobInput {
  /** Client-generated: a batch enqueued again inserts nothing twice. */
  readonly id: string;
  readonly taskRunId: string;
  readonly attempt: number;
  readonly taskName: string;
  readonly taskOrdinal: number;
  readonly input: string;
}

/** A job as a worker claims it. */
export interface ClaimedTaskJob {
  readonly id: string;
  readonly taskRunId: string;
  readonly attempt: number;
  readonly taskName: string;
  readonly taskOrdinal: number;
  readonly input: string;
  /** Times the job was handed to a worker, this one included (more than 1: a worker before died). */
  readonly deliveries: number;
}

/** A job's result: JSON text the server never reads. */
export interface TaskJobResult {
  readonly id: string;
  readonly result: string;
}

/** Largest number of jobs one claim hands out. */
export const MAX_CLAIM = 1000;
/** Largest number of results one take hands out. */
export const MAX_TAKE = 10_000;
/** The shortest heartbeat silence after which a running job is handed to another worker. */
export const MIN_STALE_AFTER_MS = 100;
export const DEFAULT_STALE_AFTER_MS = 30_000;

/** Rows per multi-row INSERT: bound values stay under 30,000 (SQLite allows 32,766, PostgreSQL 65,535). */
const JOBS_PER_INSERT = Math.floor(30_000 / Object.keys(TABLES.task_queue).length);
/** Results per UPDATE of complete(): two bound values each. */
const RESULTS_PER_UPDATE = 5_000;

function checkLimit(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new InvalidUsageError(`${name} must be a whole number from 1 to ${max} (got ${value})`);
}

/**
 * A flow run's task queue (the cluster task runner): its process enqueues jobs, its workers claim them
 * (at least once: a job whose worker's heartbeat went stale is handed out again), complete them (the first
 * result of a job wins), and its process takes the results. Each operation is one statement (a few for
 * large batches), on the index (flow_run_id, status, id): no per-job round trips.
 */
export class TaskQueueStore {
  constructor(
    private readonly database: RegentDatabase,
    private readonly clock: Clock,
    private readonly events?: ServerEvents,
  ) {}

  private get db() {
    return this.database.db;
  }

  private get pg() {
    return this.database.dialect === "postgres";
  }

  /**
   * `id` among the ids `subquery` picks. On PostgreSQL as `= any(array(…))`: the ids are picked (and
   * locked) once, then each row is found by its primary key; `in (…)` may be planned as a semi-join over
   * a scan of the whole table.
   */
  private idIn(subquery: RawBuilder<unknown>) {
    return this.pg ? sql`id = any(array(${subquery}))` : sql`id in (${subquery})`;
  }

  private publish(flowRunId: string, event: TaskQueueEvent): void {
    if (event.count > 0) this.events?.publish("flow_run:task_queue", flowRunId, event);
  }

  /**
   * Adds jobs to a run's queue; ids already there are left as they are (a retried batch is harmless).
   * `enqueued`: jobs inserted; `queued`: the run's jobs waiting for a worker afterwards. FLOW_RUN_NOT_FOUND
   * for a run that does not exist.
   */
  async enqueue(
    flowRunId: string,
    jobs: readonly TaskJobInput[],
  ): Promise<{ enqueued: number; queued: number }> {
    const enqueued = await this.add(flowRunId, jobs);
    return { enqueued, queued: (await this.counts(flowRunId)).queued };
  }

  /** enqueue() without the count afterwards (which reads every queued job of the run): jobs inserted. */
  async add(flowRunId: string, jobs: readonly TaskJobInput[]): Promise<number> {
    const created = this.clock().toISOString();
    let enqueued = 0;
    for (let i = 0; i < jobs.length; i += JOBS_PER_INSERT) {
      const rows = jobs.slice(i, i + JOBS_PER_INSERT).map((job) => ({
        id: job.id,
        flow_run_id: flowRunId,
        task_run_id: job.taskRunId,
        attempt: job.attempt,
        task_name: job.taskName,
        task_ordinal: job.taskOrdinal,
        input: job.input,
        created,
      }));
      try {
        const result = await this.db
          .insertInto("task_queue")
          .values(rows)
          .onConflict((oc) => oc.column("id").doNothing())
          .executeTakeFirst();
        const inserted = Number(result.numInsertedOrUpdatedRows ?? 0);
        enqueued += inserted;
        this.publish(flowRunId, { kind: "enqueued", count: inserted });
      } catch (error) {
        if (/foreign key/i.test((error as Error).message))
          throw new NotFoundError("FLOW_RUN_NOT_FOUND", `no flow run with id ${flowRunId}`, {
            id: flowRunId,
            cause: serializeError(error),
          });
        throw error;
      }
    }
    return enqueued;
  }

  /**
   * Hands `workerId` up to `limit` of the run's jobs, oldest (smallest id) first: queued ones, and running
   * ones whose worker's heartbeat is older than `staleAfterMs` (it died: the job is delivered again). One
   * UPDATE: on PostgreSQL the candidates are locked with SKIP LOCKED, so concurrent claimers pass each
   * other and never take the same job; on SQLite the statement is one write transaction (one writer).
   */
  async claim(
    flowRunId: string,
    workerId: string,
    limit: number,
    staleAfterMs: number = DEFAULT_STALE_AFTER_MS,
  ): Promise<ClaimedTaskJob[]> {
    checkLimit("limit", limit, MAX_CLAIM);
    if (!Number.isInteger(staleAfterMs) || staleAfterMs < MIN_STALE_AFTER_MS)
      throw new InvalidUsageError(
        `stale_after_ms must be a whole number of at least ${MIN_STALE_AFTER_MS} (got ${staleAfterMs})`,
      );
    const now = this.clock();
    const staleBefore = new Date(now.getTime() - staleAfterMs).toISOString();
    const lock = this.pg ? sql` for update skip locked` : sql``;
    // Two index ranges, each in id order (an OR of both would sort every queued job of the run on each
    // claim), merged and cut to the limit. Stale ones are rare: their range is only the running jobs.
    const picked = sql`
      select id from (
        select id from (
          select id from task_queue
           where flow_run_id = ${flowRunId} and status = 'running' and heartbeat < ${staleBefore}
           order by id limit ${limit}${lock}) as stale
        union all
        select id from (
          select id from task_queue
           where flow_run_id = ${flowRunId} and status = 'queued'
           order by id limit ${limit}${lock}) as fresh
      ) as candidates
      order by id limit ${limit}`;
    const { rows } = await sql<{
      id: string;
      task_run_id: string;
      attempt: number;
      task_name: string;
      task_ordinal: number;
      input: string;
      deliveries: number;
    }>`
      update task_queue
         set status = 'running', worker_id = ${workerId}, heartbeat = ${now.toISOString()}, deliveries = deliveries + 1
       where ${this.idIn(picked)}
      returning id, task_run_id, attempt, task_name, task_ordinal, input, deliveries`.execute(this.db);
    return rows
      .map((r) => ({
        id: r.id,
        taskRunId: r.task_run_id,
        attempt: Number(r.attempt),
        taskName: r.task_name,
        taskOrdinal: Number(r.task_ordinal),
        input: r.input,
        deliveries: Number(r.deliveries),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Records jobs' results: the first result of a job wins (a job delivered twice cannot produce two).
   * `accepted`: results recorded; `duplicates`: the others (the job had one, was taken, or is not this
   * run's). A result is accepted from any worker; the job then names the one whose result it keeps.
   */
  async complete(
    flowRunId: string,
    workerId: string,
    results: readonly TaskJobResult[],
  ): Promise<{ accepted: number; duplicates: number }> {
    // One result per job within a batch too: the first.
    const seen = new Set<string>();
    const unique = results.filter((r) => !seen.has(r.id) && seen.add(r.id));
    const finished = this.clock().toISOString();
    // PostgreSQL reads VALUES parameters as text: cast the ids to the column's type.
    const id = (value: string) => (this.pg ? sql`cast(${value} as uuid)` : sql`${value}`);
    let accepted = 0;
    for (let i = 0; i < unique.length; i += RESULTS_PER_UPDATE) {
      const values = sql.join(
        unique.slice(i, i + RESULTS_PER_UPDATE).map((r) => sql`(${id(r.id)}, ${r.result})`),
      );
      const { rows } = await sql<{ id: string }>`
        with v(id, result) as (values ${values})
        update task_queue
           set status = 'done', result = v.result, worker_id = ${workerId}, finished = ${finished}
          from v
         where task_queue.id = v.id and task_queue.flow_run_id = ${flowRunId} and task_queue.status <> 'done'
        returning task_queue.id`.execute(this.db);
      accepted += rows.length;
      this.publish(flowRunId, { kind: "done", count: rows.length });
    }
    return { accepted, duplicates: results.length - accepted };
  }

  /**
   * `workerId` is alive: its running jobs of the run are not handed to another worker. `jobs`: how many
   * it holds; `stop`: the run has ended or is being cancelled (or is gone), so the worker should exit.
   */
  async heartbeat(flowRunId: string, workerId: string): Promise<{ jobs: number; stop: boolean }> {
    const result = await this.db
      .updateTable("task_queue")
      .set({ heartbeat: this.clock().toISOString() })
      .where("flow_run_id", "=", flowRunId)
      .where("status", "=", "running")
      .where("worker_id", "=", workerId)
      .executeTakeFirst();
    const run = await this.db
      .selectFrom("flow_run")
      .select("state")
      .where("id", "=", flowRunId)
      .executeTakeFirst();
    const stop = !run || run.state === "Cancelling" || isFinal(run.state as RunStateType);
    return { jobs: Number(result.numUpdatedRows), stop };
  }

  /**
   * Removes and returns up to `limit` of the run's results, oldest (smallest id) first, with the run's
   * jobs still queued and running afterwards. On PostgreSQL concurrent takes skip each other's rows.
   */
  async take(
    flowRunId: string,
    limit: number,
  ): Promise<{ results: TaskJobResult[]; queued: number; running: number }> {
    const results = await this.takeResults(flowRunId, limit);
    return { results, ...(await this.counts(flowRunId)) };
  }

  /** take() without the counts afterwards (which read every queued and running job of the run). */
  async takeResults(flowRunId: string, limit: number): Promise<TaskJobResult[]> {
    checkLimit("limit", limit, MAX_TAKE);
    const lock = this.pg ? sql` for update skip locked` : sql``;
    const picked = sql`
      select id from task_queue
       where flow_run_id = ${flowRunId} and status = 'done'
       order by id limit ${limit}${lock}`;
    const { rows } = await sql<{ id: string; result: string | null }>`
      delete from task_queue where ${this.idIn(picked)} returning id, result`.execute(this.db);
    return rows
      .map((r) => ({ id: r.id, result: r.result ?? "null" }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Removes every job of the run (done or not); returns how many. */
  async clear(flowRunId: string): Promise<number> {
    const result = await this.db
      .deleteFrom("task_queue")
      .where("flow_run_id", "=", flowRunId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * The run's jobs waiting for a worker and held by one: a count over the index, as long as the run's
   * outstanding jobs (tens of ms for 100,000 on PostgreSQL), so the API reads it only when asked for.
   */
  async counts(flowRunId: string): Promise<{ queued: number; running: number }> {
    const rows = await this.db
      .selectFrom("task_queue")
      .select((eb) => ["status", eb.fn.countAll<string | number>().as("n")])
      .where("flow_run_id", "=", flowRunId)
      .where("status", "in", ["queued", "running"])
      .groupBy("status")
      .execute();
    const count = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return { queued: count("queued"), running: count("running") };
  }
}
