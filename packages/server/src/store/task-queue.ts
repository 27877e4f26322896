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
/** Ids per statement that names jobs (acknowledged results, heartbeats, releases): one bound value each. */
const IDS_PER_STATEMENT = 10_000;

/** `items` in slices of at most `size`: one statement each. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

function checkLimit(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new InvalidUsageError(`${name} must be a whole number from 1 to ${max} (got ${value})`);
}

/**
 * A flow run's task queue (the cluster task runner): its process enqueues jobs, its workers claim them
 * (at least once: a job whose worker's heartbeat went stale is handed out again), complete them (the first
 * result of a job wins) or give them back, and its process takes the results (and acknowledges them, which
 * removes them). Each operation is one statement (two for a take that acknowledges, a few for large
 * batches), on the index (flow_run_id, status, id) or the primary key: no per-job round trips.
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
   * `workerId` is alive: its running jobs of the run are not handed to another worker. With `jobIds`,
   * only those of them are kept (a job a claim gave it without its knowing, the answer being lost, then
   * goes stale and is handed out again). `jobs`: how many were kept; `stop`: the run has ended or is being
   * cancelled (or is gone), so the worker should exit.
   */
  async heartbeat(
    flowRunId: string,
    workerId: string,
    jobIds?: readonly string[],
  ): Promise<{ jobs: number; stop: boolean }> {
    const heartbeat = this.clock().toISOString();
    const refresh = (ids?: readonly string[]) => {
      let update = this.db
        .updateTable("task_queue")
        .set({ heartbeat })
        .where("flow_run_id", "=", flowRunId)
        .where("status", "=", "running")
        .where("worker_id", "=", workerId);
      if (ids) update = update.where("id", "in", ids);
      return update.executeTakeFirst();
    };
    let jobs = 0;
    if (jobIds === undefined) jobs = Number((await refresh()).numUpdatedRows);
    else
      for (const ids of chunks(jobIds, IDS_PER_STATEMENT))
        jobs += Number((await refresh(ids)).numUpdatedRows);
    const run = await this.db
      .selectFrom("flow_run")
      .select("state")
      .where("id", "=", flowRunId)
      .executeTakeFirst();
    const stop = !run || run.state === "Cancelling" || isFinal(run.state as RunStateType);
    return { jobs, stop };
  }

  /**
   * `workerId` gives jobs back (it is stopping): those of `ids` it holds (the run's, running) are queued
   * again in their place (by id), and their delivery is not counted (it was not a failed one). Returns how
   * many.
   */
  async release(flowRunId: string, workerId: string, ids: readonly string[]): Promise<number> {
    let released = 0;
    for (const slice of chunks(ids, IDS_PER_STATEMENT)) {
      const result = await this.db
        .updateTable("task_queue")
        .set({
          status: "queued",
          worker_id: null,
          heartbeat: null,
          deliveries: sql<number>`case when deliveries > 0 then deliveries - 1 else 0 end`,
        })
        .where("flow_run_id", "=", flowRunId)
        .where("status", "=", "running")
        .where("worker_id", "=", workerId)
        .where("id", "in", slice)
        .executeTakeFirst();
      const count = Number(result.numUpdatedRows);
      released += count;
      this.publish(flowRunId, { kind: "enqueued", count });
    }
    return released;
  }

  /**
   * Returns up to `limit` of the run's results, oldest (smallest id) first, with the run's jobs still
   * queued and running afterwards. Results stay until acknowledged: `ack` names those the caller already
   * has, removed first. A take whose answer was lost is harmless (the next returns the same results).
   */
  async take(
    flowRunId: string,
    limit: number,
    ack: readonly string[] = [],
  ): Promise<{ results: TaskJobResult[]; queued: number; running: number }> {
    const results = await this.takeResults(flowRunId, limit, ack);
    return { results, ...(await this.counts(flowRunId)) };
  }

  /**
   * take() without the counts afterwards (which read every queued and running job of the run). One DELETE
   * of the acknowledged results (by primary key), then one read of the next ones on the index: takes that
   * race may return the same results, which their caller acknowledges (the first removes them).
   */
  async takeResults(flowRunId: string, limit: number, ack: readonly string[] = []): Promise<TaskJobResult[]> {
    checkLimit("limit", limit, MAX_TAKE);
    for (const ids of chunks(ack, IDS_PER_STATEMENT))
      await this.db
        .deleteFrom("task_queue")
        .where("flow_run_id", "=", flowRunId)
        .where("status", "=", "done")
        .where("id", "in", ids)
        .executeTakeFirst();
    const rows = await this.db
      .selectFrom("task_queue")
      .select(["id", "result"])
      .where("flow_run_id", "=", flowRunId)
      .where("status", "=", "done")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, result: r.result ?? "null" }));
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
