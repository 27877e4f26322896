import { AsyncLocalStorage } from "node:async_hooks";
import { Worker } from "node:worker_threads";
import { graphql, RegentClient, type ResultOf } from "@regent/client";
import {
  CancelledError,
  RegentError,
  serializeError,
  TaskNotFoundError,
  TaskTimeoutError,
} from "@regent/core";
import type { TaskContext } from "./context.js";
import { decodePayload, encodeOutcome, type JobOutcome } from "./internal/cluster-codec.js";
import { redirectConsole } from "./internal/console-capture.js";
import type { FromHeartbeat, HeartbeatSettings, ToHeartbeat } from "./internal/heartbeat-thread.js";
import { RunLogger } from "./internal/logger.js";
import { findTaskByName } from "./internal/registry.js";
import { untilServerAnswers } from "./internal/server-retry.js";
import { wakeUps } from "./internal/wake-ups.js";
import { workerEntry } from "./internal/worker-entry.js";
import { TaskQueueEvents } from "./runners/cluster.js";
import { maskingReporter, resolveSecret } from "./secrets.js";
import { serverReporter } from "./server-reporter.js";

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
const ReleaseTaskJobs = graphql(`
  mutation ReleaseTaskJobs($flowRunId: uuid!, $workerId: String!, $ids: [uuid!]!) {
    release_task_jobs(input: { flow_run_id: $flowRunId, worker_id: $workerId, ids: $ids })
  }
`);

export interface ClusterWorkerOptions {
  /** The server (`REGENT__API`) and the run's token (`REGENT__API_KEY`). */
  readonly apiUrl: string;
  readonly apiKey: string | undefined;
  readonly flowRunId: string;
  readonly workerId: string;
  /** Task runs executed at once (default 1). */
  readonly concurrency?: number;
  /** Silence after which the server gives this worker's task runs to another; it heartbeats at a third. */
  readonly heartbeatTimeoutMs?: number;
  /** End after being idle this long; undefined: stay until the run ends. */
  readonly idleExitMs?: number | undefined;
  /**
   * Aborted (SIGTERM: a Spot reclaim, a drained node): take nothing more, give the task runs it holds back
   * to the queue for other workers, report those that finish within a grace period, and end.
   */
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
  const { flowRunId, workerId } = options;
  const client = new RegentClient({ apiUrl: options.apiUrl, apiKey: options.apiKey });
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
  /** Jobs claimed ahead of a free slot (the prefetch). */
  const buffered: ClaimedJob[] = [];
  /** Jobs given back to the queue as this worker stopped. */
  const givenBack = new Set<string>();
  const stopping = new AbortController();
  let reason = "asked to stop";
  let stoppedAt = 0;
  /** Stopped otherwise than by the run's end: what it holds goes back to the queue, failures are not reported. */
  let givingBack = false;
  const stop = (why: string, giveBack: boolean) => {
    if (stopping.signal.aborted) return;
    reason = why;
    stoppedAt = Date.now();
    givingBack = giveBack;
    // Running tasks see ctx.signal abort; what ignores it is left behind after STOP_GRACE_MS.
    const cause = new CancelledError(`worker ${workerId} stopped: ${why}`);
    stopping.abort(cause);
    for (const c of running.values()) c.abort(cause);
    wake.kick();
  };
  options.signal?.addEventListener("abort", () => stop("asked to stop", true), { once: true });

  // The heartbeat, in a thread of its own; told which jobs this worker holds.
  const heartbeat = new Worker(workerEntry("heartbeat-thread"), {
    workerData: {
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      flowRunId,
      workerId,
      everyMs: Math.max(100, Math.floor(heartbeatTimeoutMs / 3)),
    } satisfies HeartbeatSettings,
  });
  heartbeat.unref();
  let heartbeatFailure: string | undefined;
  heartbeat.on("message", (message: FromHeartbeat) => {
    if (message.type === "run-over") stop("the flow run ended", false);
    else if (message.message !== heartbeatFailure) {
      heartbeatFailure = message.message;
      say(`worker ${workerId}: heartbeat failed: ${message.message}`);
    }
  });
  heartbeat.on("error", (error) => say(`worker ${workerId}: the heartbeat thread failed: ${error.message}`));
  const held = () => [...running.keys(), ...buffered.map((j) => j.id)];
  const tell = (message: ToHeartbeat) => {
    if (message.ids.length > 0) heartbeat.postMessage(message);
  };
  if (options.signal?.aborted) stop("asked to stop", true);

  let completions: Array<{ id: string; result: string }> = [];
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
  let idleSince = Date.now();

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
        const call = Promise.resolve().then(() => current.run(logger, () => task.fn(payload.input, ctx)));
        outcome = { ok: true, value: await withTimeout(call, payload.timeoutMs, job.task_name, controller) };
      } finally {
        const ms = performance.now() - started;
        taskMs = taskMs === undefined ? ms : taskMs * 0.8 + ms * 0.2;
      }
    } catch (error) {
      outcome = { ok: false, error: serializeError(error) };
    }
    running.delete(job.id);
    ran++;
    idleSince = Date.now();
    // Given back to the queue: a result is still the first (it wins), a failure (the stop's abort) is not.
    if (!givingBack || outcome.ok)
      completions.push({ id: job.id, result: encodeOutcome(taskName, outcome, taskMs) });
    startBuffered();
    wake.kick();
  };

  /** Starts claimed jobs while slots are free. */
  function startBuffered(): void {
    while (!stopping.signal.aborted && running.size < concurrency && buffered.length > 0)
      void execute(buffered.shift()!);
  }

  /** Retries while the server cannot answer (it may be restarting); once stopping, for STOP_GRACE_MS. */
  const request = <T>(call: () => Promise<T>): Promise<T> =>
    untilServerAnswers(call, {
      giveUp: () => stopping.signal.aborted && Date.now() - stoppedAt > STOP_GRACE_MS,
      onRetry: (error, _delay, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) say(`worker ${workerId}: ${error.message}; trying again`);
      },
    });

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
            stop(`idle for ${Math.round(options.idleExitMs / 1000)} s`, false);
            break;
          }
          if (stopping.signal.aborted && givingBack && buffered.length + running.size > 0) await giveBack();
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
      // Before any of them starts (a task may hold this thread): the heartbeat keeps what is held alive.
      tell({ type: "hold", ids: claimed.map((j) => j.id) });
      tell({ type: "drop", ids: results.map((r) => r.id) });
      if (limit > 0) lastClaimEmpty = claimed.length === 0;
      buffered.push(...claimed);
      if (buffered.length > 0 || running.size > 0) idleSince = Date.now();
    }
  } finally {
    for (const c of running.values()) c.abort(new CancelledError(`worker ${workerId} stopped: ${reason}`));
    wakeSignal.abort();
    stop(reason, givingBack);
    if (givingBack) await giveBack().catch(() => undefined);
    await heartbeat.terminate();
    await reporter.flush?.();
  }
  return { ran, reason };

  /** What this worker holds goes back to the queue (once; its running tasks' results still count). */
  async function giveBack(): Promise<void> {
    const ids = held().filter((id) => !givenBack.has(id));
    buffered.length = 0;
    if (ids.length === 0) return;
    for (const id of ids) givenBack.add(id);
    const released = await request(() => client.request(ReleaseTaskJobs, { flowRunId, workerId, ids }));
    tell({ type: "drop", ids });
    say(`worker ${workerId}: gave ${released.release_task_jobs} task runs back to the queue`);
  }
}

/** The task's value, or TaskTimeoutError once `timeoutMs` passed since it started (ctx.signal aborts then). */
function withTimeout<T>(
  call: Promise<T>,
  timeoutMs: number | undefined,
  taskName: string,
  controller: AbortController,
): Promise<T> {
  if (timeoutMs === undefined) return call;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TaskTimeoutError(taskName, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
