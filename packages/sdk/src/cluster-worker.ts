import { AsyncLocalStorage } from "node:async_hooks";
import { graphql, type RegentClient, type ResultOf } from "@regent/client";
import {
  CancelledError,
  RegentError,
  serializeError,
  TaskNotFoundError,
  TaskTimeoutError,
} from "@regent/core";
import type { TaskContext } from "./context.js";
import { abortableSleep } from "./internal/abortable-sleep.js";
import { decodePayload, encodeOutcome, type JobOutcome } from "./internal/cluster-codec.js";
import { redirectConsole } from "./internal/console-capture.js";
import { RunLogger } from "./internal/logger.js";
import { findTaskByName } from "./internal/registry.js";
import { wakeUps } from "./internal/wake-ups.js";
import { TaskQueueEvents } from "./runners/cluster.js";
import { maskingReporter, resolveSecret } from "./secrets.js";
import { RETRYABLE, serverReporter } from "./server-reporter.js";

const ClaimTaskJobs = graphql(`
  mutation ClaimTaskJobs($flowRunId: uuid!, $workerId: String!, $limit: Int!, $staleAfterMs: Int!) {
    claim_task_jobs(input: { flow_run_id: $flowRunId, worker_id: $workerId, limit: $limit, stale_after_ms: $staleAfterMs }) {
      id task_run_id attempt task_name task_ordinal input deliveries
    }
  }
`);
const CompleteTaskJobs = graphql(`
  mutation CompleteTaskJobs($flowRunId: uuid!, $workerId: String!, $results: [task_job_result_input!]!) {
    complete_task_jobs(input: { flow_run_id: $flowRunId, worker_id: $workerId, results: $results }) { accepted duplicates }
  }
`);
// A finished job's result and the claim of the next in one round trip.
const CompleteAndClaim = graphql(`
  mutation CompleteAndClaim(
    $flowRunId: uuid!, $workerId: String!, $results: [task_job_result_input!]!, $limit: Int!, $staleAfterMs: Int!
  ) {
    complete_task_jobs(input: { flow_run_id: $flowRunId, worker_id: $workerId, results: $results }) { accepted duplicates }
    claim_task_jobs(input: { flow_run_id: $flowRunId, worker_id: $workerId, limit: $limit, stale_after_ms: $staleAfterMs }) {
      id task_run_id attempt task_name task_ordinal input deliveries
    }
  }
`);
const WorkerHeartbeat = graphql(`
  mutation WorkerHeartbeat($flowRunId: uuid!, $workerId: String!) {
    task_worker_heartbeat(input: { flow_run_id: $flowRunId, worker_id: $workerId }) { jobs stop }
  }
`);

export interface ClusterWorkerOptions {
  readonly client: RegentClient;
  readonly flowRunId: string;
  readonly workerId: string;
  /** Task runs executed at once (default 1). */
  readonly concurrency?: number;
  /** Silence after which the server gives this worker's task runs to another; it heartbeats at a third. */
  readonly heartbeatTimeoutMs?: number;
  /** End after being idle this long; undefined: stay until the run ends. */
  readonly idleExitMs?: number | undefined;
  /** Aborted: take nothing more, finish what runs, report, and end. */
  readonly signal?: AbortSignal;
  /** Lines about the worker itself (not the tasks': those go to the run's logs). */
  readonly log?: (line: string) => void;
}

export interface ClusterWorkerResult {
  /** Task runs executed. */
  readonly ran: number;
  /** Why it ended: `the flow run ended`, `idle for 10 s`, `asked to stop`. */
  readonly reason: string;
}

type ClaimedJob = ResultOf<typeof ClaimTaskJobs>["claim_task_jobs"][number];

/** A task run whose workers kept dying under it is not given to another: it fails, saying so. */
const MAX_DELIVERIES = 3;
const BATCH = 500;
const MAX_CLAIM = 1000;
/**
 * Work claimed ahead of free slots: enough to cover two round trips to the server (as this worker sees
 * them: a CPU-bound task holding the thread makes them longer) at its recent task durations — batches for
 * tasks of microseconds (one round trip per task would cost more than the task), one or two for tasks of
 * tens of ms (no gap between them), none for tasks of a second or more (another worker may be idle, and
 * would wait for the job held here).
 */
const NO_PREFETCH_FROM_MS = 1_000;
const MAX_PREFETCH = 500;
/** Once stopped, how long running task runs that ignore ctx.signal are waited for. */
const STOP_GRACE_MS = 5_000;

/** The logger of the task run whose code is running: its console output goes to that run's logs. */
const current = new AsyncLocalStorage<RunLogger>();
let consoleRedirected = false;

function captureConsole(): void {
  if (consoleRedirected) return;
  consoleRedirected = true;
  redirectConsole((level, args) => {
    const logger = current.getStore();
    logger?.write(level, args[0], args.slice(1));
    return logger !== undefined;
  });
}

/**
 * `regent worker`: claims the flow run's queued task runs (as many at once as `concurrency`), runs each
 * with the task of the same name in the flow module this process imported, and sends the outcomes back
 * in batches — the next claim travels with them. Wakes on the server's queue events, polling as
 * fallback; heartbeats so that its task runs go to another worker if it dies; ends when the flow run
 * ends (or is cancelled), when idle past `idleExitMs`, or when `signal` aborts.
 */
export async function runClusterWorker(options: ClusterWorkerOptions): Promise<ClusterWorkerResult> {
  const { client, flowRunId, workerId } = options;
  const concurrency = options.concurrency ?? 1;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 30_000;
  const say = options.log ?? (() => {});
  const server = { client, flowRunId };
  const reporter = maskingReporter(
    serverReporter({ client, flowRunId, flowRunVersion: 0, onWarning: (w) => say(`warning: ${w}`) }),
  );
  captureConsole();

  // Wakes on queue events; finished task runs wake it too (their results go out with the next claim).
  const wakeSignal = new AbortController();
  const wake = wakeUps(client, TaskQueueEvents, { flowRunId }, wakeSignal.signal);
  const running = new Map<string, AbortController>();
  const stopping = new AbortController();
  let reason = "asked to stop";
  let stoppedAt = 0;
  const stop = (why: string) => {
    if (stopping.signal.aborted) return;
    reason = why;
    stoppedAt = Date.now();
    // Running tasks see ctx.signal abort; what ignores it is left behind after STOP_GRACE_MS.
    const cause = new CancelledError(`worker ${workerId} stopped: ${why}`);
    stopping.abort(cause);
    for (const c of running.values()) c.abort(cause);
    wake.kick();
  };
  options.signal?.addEventListener("abort", () => stop("asked to stop"), { once: true });
  if (options.signal?.aborted) stop("asked to stop");

  let completions: Array<{ id: string; result: string }> = [];
  /** Jobs claimed ahead of a free slot (the prefetch). */
  const buffered: ClaimedJob[] = [];
  /** How long task runs take here (moving average, ms): short ones are claimed ahead, in batches. */
  let taskMs: number | undefined;
  /** How long a claim takes (moving average, ms). */
  let roundTripMs = 5;
  const prefetch = () =>
    taskMs === undefined || taskMs >= NO_PREFETCH_FROM_MS
      ? 0
      : Math.min(
          MAX_PREFETCH,
          Math.max(1, Math.ceil((2 * roundTripMs * concurrency) / Math.max(taskMs, 0.01))),
        );
  let ran = 0;

  const execute = async (job: ClaimedJob): Promise<void> => {
    const controller = new AbortController();
    running.set(job.id, controller);
    let outcome: JobOutcome;
    let taskName = job.task_name;
    // The task may hold the thread (CPU-bound work): the result just pushed and the next claim go out first.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      if (job.deliveries > MAX_DELIVERIES)
        throw new RegentError(
          "WORKER_CRASHED",
          `the workers running task "${job.task_name}" ended ${job.deliveries - 1} times before it finished (out of memory? killed?); it is not given to another`,
        );
      const payload = decodePayload(job.input);
      taskName = payload.taskName;
      const task = findTaskByName(job.task_name, job.task_ordinal) as
        | { fn: (input: unknown, ctx: TaskContext) => unknown }
        | undefined;
      if (!task) throw new TaskNotFoundError(job.task_name, "the flow's module as this worker loaded it");
      const logger = new RunLogger(reporter, flowRunId, payload.taskRunId);
      let timer: NodeJS.Timeout | undefined;
      if (payload.timeoutMs !== undefined) {
        const ms = payload.timeoutMs;
        timer = setTimeout(() => controller.abort(new TaskTimeoutError(job.task_name, ms)), ms);
      }
      const ctx: TaskContext = {
        taskRunId: payload.taskRunId,
        flowRunId,
        taskName: payload.taskName,
        attempt: payload.attempt,
        mapIndex: payload.mapIndex,
        tags: payload.tags,
        signal: controller.signal,
        log: logger,
        secret: (ref) => resolveSecret(ref, server),
      };
      const started = performance.now();
      try {
        outcome = { ok: true, value: await current.run(logger, () => task.fn(payload.input, ctx)) };
      } finally {
        clearTimeout(timer);
        const ms = performance.now() - started;
        taskMs = taskMs === undefined ? ms : taskMs * 0.8 + ms * 0.2;
      }
    } catch (error) {
      outcome = { ok: false, error: serializeError(error) };
    }
    running.delete(job.id);
    ran++;
    completions.push({ id: job.id, result: encodeOutcome(taskName, outcome, taskMs) });
    startBuffered();
    wake.kick();
  };

  /** Starts claimed jobs while slots are free. */
  function startBuffered(): void {
    while (!stopping.signal.aborted && running.size < concurrency && buffered.length > 0)
      void execute(buffered.shift()!);
  }

  const request = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const code = (error as { code?: string }).code ?? "";
        if (!RETRYABLE.has(code) || attempt >= 10) throw error;
        say(`worker ${workerId}: ${(error as Error).message}; trying again`);
        await abortableSleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  };

  const heartbeats = (async () => {
    const every = Math.max(100, Math.floor(heartbeatTimeoutMs / 3));
    while (!stopping.signal.aborted) {
      await abortableSleep(every, stopping.signal).catch(() => undefined);
      if (stopping.signal.aborted) return;
      try {
        const { task_worker_heartbeat } = await client.request(WorkerHeartbeat, { flowRunId, workerId });
        if (task_worker_heartbeat.stop) stop("the flow run ended");
      } catch (error) {
        say(`worker ${workerId}: heartbeat failed: ${(error as Error).message}`);
      }
    }
  })();

  let idleSince = Date.now();
  let lastClaimEmpty = false;
  try {
    for (;;) {
      startBuffered();
      // What to ask for: a job per free slot, and the prefetch's worth beyond what waits here already.
      const want = stopping.signal.aborted ? 0 : concurrency - running.size + prefetch() - buffered.length;
      if (completions.length === 0) {
        if (stopping.signal.aborted && (running.size === 0 || Date.now() - stoppedAt > STOP_GRACE_MS)) break;
        if (want <= 0 || lastClaimEmpty) {
          const idle = running.size === 0 && buffered.length === 0;
          if (idle && options.idleExitMs !== undefined && Date.now() - idleSince >= options.idleExitMs) {
            stop(`idle for ${Math.round(options.idleExitMs / 1000)} s`);
            break;
          }
          await wake.next(stopping.signal.aborted ? 500 : undefined);
          lastClaimEmpty = false;
          continue;
        }
      }
      const results = completions.slice(0, BATCH);
      completions = completions.slice(results.length);
      const vars = { flowRunId, workerId, staleAfterMs: heartbeatTimeoutMs };
      const limit = Math.min(want, MAX_CLAIM);
      const sent = performance.now();
      let claimed: readonly ClaimedJob[] = [];
      if (results.length > 0 && limit > 0)
        claimed = (await request(() => client.request(CompleteAndClaim, { ...vars, results, limit })))
          .claim_task_jobs;
      else if (results.length > 0)
        await request(() => client.request(CompleteTaskJobs, { flowRunId, workerId, results }));
      else claimed = (await request(() => client.request(ClaimTaskJobs, { ...vars, limit }))).claim_task_jobs;
      roundTripMs = roundTripMs * 0.8 + (performance.now() - sent) * 0.2;
      if (limit > 0) lastClaimEmpty = claimed.length === 0;
      buffered.push(...claimed);
      if (claimed.length > 0 || running.size > 0) idleSince = Date.now();
    }
  } finally {
    for (const c of running.values()) c.abort(new CancelledError(`worker ${workerId} stopped: ${reason}`));
    wakeSignal.abort();
    stop(reason);
    await heartbeats;
    await reporter.flush?.();
  }
  return { ran, reason };
}
