import type { TaskQueueEvent } from "../events.js";
import {
  type ClaimedTaskJob,
  DEFAULT_STALE_AFTER_MS,
  MAX_CLAIM,
  MAX_TAKE,
  MIN_STALE_AFTER_MS,
  type TaskJobResult,
} from "../store/task-queue.js";
import { builder, type GraphQLContext } from "./builder.js";
import { requireOwnRuns } from "./run-scope.js";

// A flow run's task queue, for the cluster task runner: the run's process enqueues jobs (task
// executions) and takes their results (acknowledging those it has); the run's workers claim jobs,
// heartbeat, complete them, and give back those they will not run. Each is
// called with the run's own token (or a key that reaches the run); inputs and results are JSON text the
// server never reads. `task_queue_events` wakes workers and the flow's process; they poll as a fallback.

/**
 * The run's queued and running jobs, counted once and only when a selected field asks: a count reads
 * every outstanding job of the run (tens of ms for 100,000 on PostgreSQL), which callers that track their
 * jobs themselves need not pay for on each call.
 */
type LazyCounts = () => Promise<{ queued: number; running: number }>;

function lazyCounts(ctx: GraphQLContext, flowRunId: string): LazyCounts {
  let counts: Promise<{ queued: number; running: number }> | undefined;
  return () => {
    counts ??= ctx.store.taskQueue.counts(flowRunId);
    return counts;
  };
}

const TaskJob = builder.objectRef<ClaimedTaskJob>("task_job").implement({
  description: "A job handed to a worker: one execution of a task run",
  fields: (t) => ({
    id: t.field({ type: "uuid", resolve: (j) => j.id }),
    task_run_id: t.field({ type: "uuid", resolve: (j) => j.taskRunId }),
    attempt: t.exposeInt("attempt"),
    task_name: t.exposeString("taskName"),
    task_ordinal: t.exposeInt("taskOrdinal"),
    input: t.exposeString("input", { description: "JSON text, as enqueued" }),
    deliveries: t.exposeInt("deliveries", {
      description:
        "times the job was handed out, this one included (more than 1: a worker before went silent)",
    }),
  }),
});

const TaskJobResultRef = builder.objectRef<TaskJobResult>("task_job_result").implement({
  fields: (t) => ({
    id: t.field({ type: "uuid", resolve: (r) => r.id }),
    result: t.exposeString("result", { description: "JSON text, as the worker completed it" }),
  }),
});

const TaskQueueEventRef = builder.objectRef<TaskQueueEvent>("task_queue_event").implement({
  fields: (t) => ({
    kind: t.exposeString("kind", {
      description: "enqueued (jobs were added, or given back by a worker) or done (results were accepted)",
    }),
    count: t.exposeInt("count", { description: "jobs added or given back, or results accepted" }),
  }),
});

const TaskJobInput = builder.inputType("task_job_input", {
  fields: (f) => ({
    id: f.field({ type: "uuid", required: true, description: "the job's id, made by the caller" }),
    task_run_id: f.field({ type: "uuid", required: true }),
    attempt: f.int({ required: true }),
    task_name: f.string({ required: true }),
    task_ordinal: f.int({ required: true }),
    input: f.string({ required: true, description: "JSON text, handed to the worker as it is" }),
  }),
});

builder.mutationFields((t) => ({
  enqueue_task_jobs: t.field({
    description:
      "Adds jobs to a flow run's task queue; jobs whose id is there already are left as they are (a batch may be sent again)",
    type: builder.objectRef<{ enqueued: number; counts: LazyCounts }>("enqueue_task_jobs_result").implement({
      fields: (f) => ({
        enqueued: f.exposeInt("enqueued", { description: "jobs added (ids already there are not counted)" }),
        queued: f.int({
          description: "the run's jobs waiting for a worker afterwards (counted only when asked for)",
          resolve: async (r) => (await r.counts()).queued,
        }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("enqueue_task_jobs_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            jobs: f.field({ type: [TaskJobInput], required: true }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      const enqueued = await ctx.store.taskQueue.add(
        input.flow_run_id,
        input.jobs.map((j) => ({
          id: j.id,
          taskRunId: j.task_run_id,
          attempt: j.attempt,
          taskName: j.task_name,
          taskOrdinal: j.task_ordinal,
          input: j.input,
        })),
      );
      return { enqueued, counts: lazyCounts(ctx, input.flow_run_id) };
    },
  }),

  claim_task_jobs: t.field({
    description: `A worker takes up to \`limit\` (1 to ${MAX_CLAIM}) of a flow run's jobs, oldest first: queued ones, and running ones whose worker has not sent a heartbeat for \`stale_after_ms\` (delivered again). No job is handed to two workers at once.`,
    type: [TaskJob],
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("claim_task_jobs_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            worker_id: f.string({ required: true }),
            limit: f.int({ required: true }),
            stale_after_ms: f.int({
              required: false,
              description: `a running job whose worker is silent this long is handed out again (default ${DEFAULT_STALE_AFTER_MS}, at least ${MIN_STALE_AFTER_MS})`,
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.taskQueue.claim(
        input.flow_run_id,
        input.worker_id,
        input.limit,
        input.stale_after_ms ?? DEFAULT_STALE_AFTER_MS,
      );
    },
  }),

  complete_task_jobs: t.field({
    description:
      "A worker reports jobs' results; the first result of a job wins (a job run twice yields one result)",
    type: builder.objectRef<{ accepted: number; duplicates: number }>("complete_task_jobs_result").implement({
      fields: (f) => ({
        accepted: f.exposeInt("accepted", { description: "results recorded" }),
        duplicates: f.exposeInt("duplicates", {
          description: "results refused: the job had one already (or is not in this run's queue)",
        }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("complete_task_jobs_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            worker_id: f.string({ required: true }),
            results: f.field({
              required: true,
              type: [
                builder.inputType("task_job_result_input", {
                  fields: (g) => ({
                    id: g.field({ type: "uuid", required: true }),
                    result: g.string({
                      required: true,
                      description: "JSON text, handed to the flow as it is",
                    }),
                  }),
                }),
              ],
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.taskQueue.complete(input.flow_run_id, input.worker_id, input.results);
    },
  }),

  task_worker_heartbeat: t.field({
    description:
      "A worker is alive: its running jobs of the run (those of `job_ids`, if given) are not handed to another worker; stop says to exit",
    type: builder.objectRef<{ jobs: number; stop: boolean }>("task_worker_heartbeat_result").implement({
      fields: (f) => ({
        jobs: f.exposeInt("jobs", {
          description: "running jobs the worker holds (of `job_ids`, if given) whose heartbeat was renewed",
        }),
        stop: f.exposeBoolean("stop", {
          description: "the flow run has ended or is being cancelled (or is gone): the worker should exit",
        }),
      }),
    }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("task_worker_heartbeat_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            worker_id: f.string({ required: true }),
            job_ids: f.field({
              type: ["uuid"],
              required: false,
              description:
                "the jobs the worker knows it runs: only these are kept (others it was given, by a claim whose answer it lost, go stale and are handed out again); all its running jobs if absent",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.taskQueue.heartbeat(input.flow_run_id, input.worker_id, input.job_ids ?? undefined);
    },
  }),

  release_task_jobs: t.int({
    description:
      "A worker gives back jobs it holds and will not run (it is stopping): they are queued again, and the delivery is not counted; returns how many",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("release_task_jobs_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            worker_id: f.string({ required: true }),
            ids: f.field({
              type: ["uuid"],
              required: true,
              description:
                "the jobs to give back; only those of this run the worker holds (running) are released",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.taskQueue.release(input.flow_run_id, input.worker_id, input.ids);
    },
  }),

  take_task_results: t.field({
    description: `The flow's process removes the results it acknowledges (\`ack\`), then takes up to \`limit\` (1 to ${MAX_TAKE}) results of its run's jobs, oldest first; they stay until acknowledged (a take whose answer was lost returns them again)`,
    type: builder
      .objectRef<{ results: TaskJobResult[]; counts: LazyCounts }>("take_task_results_result")
      .implement({
        fields: (f) => ({
          results: f.field({ type: [TaskJobResultRef], resolve: (r) => r.results }),
          queued: f.int({
            description: "the run's jobs waiting for a worker afterwards (counted only when asked for)",
            resolve: async (r) => (await r.counts()).queued,
          }),
          running: f.int({
            description: "the run's jobs held by a worker afterwards (counted only when asked for)",
            resolve: async (r) => (await r.counts()).running,
          }),
        }),
      }),
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("take_task_results_input", {
          fields: (f) => ({
            flow_run_id: f.field({ type: "uuid", required: true }),
            limit: f.int({ required: true }),
            ack: f.field({
              type: ["uuid"],
              required: false,
              description: "results the caller already has (from earlier takes): removed before taking",
            }),
          }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      const results = await ctx.store.taskQueue.takeResults(input.flow_run_id, input.limit, input.ack ?? []);
      return { results, counts: lazyCounts(ctx, input.flow_run_id) };
    },
  }),

  clear_task_jobs: t.int({
    description: "Removes every job of a flow run's task queue, done or not; returns how many",
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType("clear_task_jobs_input", {
          fields: (f) => ({ flow_run_id: f.field({ type: "uuid", required: true }) }),
        }),
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      await requireOwnRuns(ctx, [input.flow_run_id]);
      return ctx.store.taskQueue.clear(input.flow_run_id);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  task_queue_events: t.field({
    type: TaskQueueEventRef,
    description:
      "A flow run's task queue got jobs (enqueued) or results (done), once committed: workers and the flow's process wake on it (and poll as well)",
    args: { flow_run_id: t.arg({ type: "uuid", required: true }) },
    subscribe: async (_root, args, ctx) => {
      await requireOwnRuns(ctx, [args.flow_run_id]);
      return ctx.events.subscribe("flow_run:task_queue", args.flow_run_id);
    },
    resolve: (event) => event,
  }),
}));
