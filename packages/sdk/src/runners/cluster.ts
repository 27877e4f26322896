import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { graphql, type RegentClient, type VariablesOf } from "@regent/client";
import {
  type Duration,
  InvalidConfigError,
  InvalidUsageError,
  newId,
  parseDuration,
  RegentError,
  type RunConfig,
} from "@regent/core";
import type { ServerLink } from "../flow-runs.js";
import { abortableSleep } from "../internal/abortable-sleep.js";
import { decodeOutcome, encodePayload } from "../internal/cluster-codec.js";
import type { TaskContextImpl, TaskDefinition } from "../internal/engine.js";
import type { TaskRunner, TaskRunnerInstance } from "../internal/runner.js";
import { Semaphore } from "../internal/semaphore.js";
import { untilServerAnswers } from "../internal/server-retry.js";
import { wakeUps } from "../internal/wake-ups.js";
import type { EngineReporter, LogLevel } from "../types.js";
import { workerPoolTaskRunner } from "./worker-pool.js";

const EnqueueTaskJobs = graphql(`
  mutation EnqueueTaskJobs($flowRunId: uuid!, $jobs: [task_job_input!]!) {
    enqueue_task_jobs(input: { flow_run_id: $flowRunId, jobs: $jobs }) { enqueued }
  }
`);
// Results stay on the server until the next take acknowledges them: a take whose answer is lost loses nothing.
const TakeTaskResults = graphql(`
  mutation TakeTaskResults($flowRunId: uuid!, $limit: Int!, $ack: [uuid!]) {
    take_task_results(input: { flow_run_id: $flowRunId, limit: $limit, ack: $ack }) { results { id result } }
  }
`);
const ClearTaskJobs = graphql(`
  mutation ClearTaskJobs($flowRunId: uuid!) { clear_task_jobs(input: { flow_run_id: $flowRunId }) }
`);
export const TaskQueueEvents = graphql(`
  subscription TaskQueueEvents($flowRunId: uuid!) { task_queue_events(flow_run_id: $flowRunId) { kind count } }
`);

/** One worker as its launcher started it. */
export interface ClusterWorker {
  /** What to call it in messages: `pid 1234`, `container 3f2a…`. */
  readonly ref: string | undefined;
  /** Settles once it has ended; never rejects. */
  readonly ended: Promise<ClusterWorkerEnd>;
  /** Asks it to end (`force: false`: SIGTERM and a grace period) or ends it at once. */
  stop(force: boolean): void;
}

/** How a worker ended. */
export interface ClusterWorkerEnd {
  /** In words, completing "worker w3 …": `exited with code 137`, `was evicted (Evicted: …)`. */
  readonly how: string;
  /** True when it ended on its own, well (exit code 0): idle past its timeout, or the run was over. */
  readonly clean: boolean;
}

/** Starts the workers of one flow run where its infrastructure says (processes, containers, pods…). */
export interface ClusterWorkerLauncher {
  /** e.g. `local`, `docker`. */
  readonly kind: string;
  /** Starts `regent worker` with these arguments (the flow run and worker id are among them). */
  start(workerId: string, args: readonly string[]): ClusterWorker;
}

/**
 * Gives the launcher for a runner's `infra`, or for the flow run's own infrastructure when it names
 * none. The executor (`regent execute flow-run`) provides it; throws InvalidConfigError for an infra it
 * cannot launch.
 */
export type ClusterWorkerLaunchers = (infra: RunConfig | undefined) => ClusterWorkerLauncher;

/** What `clusterTaskRunner()` makes: executors read `infra` to load its launcher ahead. */
export interface ClusterTaskRunner extends TaskRunner {
  readonly kind: "cluster";
  readonly infra: RunConfig | undefined;
}

export interface ClusterTaskRunnerOptions {
  /** Workers kept from the run's start to its end (default 1). */
  minWorkers?: number;
  /** Most workers at once; more start while task runs wait in the queue (default 4). */
  maxWorkers?: number;
  /** Task runs one worker executes at once (default 1: right for CPU-bound tasks). */
  concurrencyPerWorker?: number;
  /**
   * Where workers run: a run config (`localRun()`, `dockerRun({ image, cpus, memory })`…). Default: where
   * the flow run itself runs, with its image.
   */
  infra?: RunConfig;
  /**
   * A worker not heard from for this long is taken for dead, and its task runs are given to another
   * (default 30 s; at-least-once: a task may then run twice, its first result is kept).
   */
  heartbeatTimeout?: Duration;
  /** Workers above `minWorkers` end after being idle this long (default 10 s). */
  idleTimeout?: Duration;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type OutgoingJob = VariablesOf<typeof EnqueueTaskJobs>["jobs"][number];

/** The most attempts in the queue at once for one run (and the map lanes the engine opens). */
const MAX_WINDOW = 1_000;
/** Jobs sent in one enqueue request; results taken in one request. */
const BATCH = 500;
const STOP_GRACE_MS = 10_000;

const whole = (value: number | undefined, name: string, fallback: number, least: number): number => {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < least)
    throw new InvalidConfigError(`clusterTaskRunner: ${name} must be a whole number ≥ ${least} (got ${v})`);
  return v;
};

/**
 * Fans task runs out over worker processes, containers or pods through the server's queue: the flow
 * process keeps states, retries, timeouts, caching and triggers, and puts each attempt into the queue
 * (its input serialised); `regent worker` processes of the run claim attempts, run the task (re-importing
 * the flow module and finding the task by name) and send the outcome back. Workers scale between
 * `minWorkers` and `maxWorkers` with the task runs waiting, and are stopped when the run ends.
 *
 * A run without a server (`regent run`, `flow.run()`) has no queue: its task runs go to a worker-thread
 * pool of `maxWorkers × concurrencyPerWorker` threads instead.
 */
export function clusterTaskRunner(options: ClusterTaskRunnerOptions = {}): ClusterTaskRunner {
  const minWorkers = whole(options.minWorkers, "minWorkers", 1, 0);
  const maxWorkers = whole(options.maxWorkers, "maxWorkers", Math.max(4, minWorkers), 1);
  if (minWorkers > maxWorkers)
    throw new InvalidConfigError(
      `clusterTaskRunner: minWorkers (${minWorkers}) is more than maxWorkers (${maxWorkers})`,
    );
  const perWorker = whole(options.concurrencyPerWorker, "concurrencyPerWorker", 1, 1);
  const heartbeatTimeoutMs = parseDuration(options.heartbeatTimeout ?? "30s");
  const idleTimeoutMs = parseDuration(options.idleTimeout ?? "10s");
  const settings = { minWorkers, maxWorkers, perWorker, heartbeatTimeoutMs, idleTimeoutMs };
  return {
    kind: "cluster",
    infra: options.infra,
    start(env): TaskRunnerInstance {
      const launchers = env.workers;
      if (!env.server || !launchers) {
        // No queue to put task runs in: threads of this process do the work.
        return workerPoolTaskRunner({ size: maxWorkers * perWorker }).start(env);
      }
      return new ClusterRun(settings, env.server, launchers(options.infra), env.reporter);
    },
  };
}

interface Settings {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly perWorker: number;
  readonly heartbeatTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

interface LiveWorker {
  readonly id: string;
  readonly worker: ClusterWorker;
  /** Kept for the whole run (one of `minWorkers`), not ended when idle. */
  readonly kept: boolean;
}

class ClusterRun implements TaskRunnerInstance {
  readonly concurrency: number;
  /** Workers time task runs out from when they start them, not the engine from when they are queued. */
  readonly enforcesTimeouts = true;
  /** Why workers cannot be started at all (a run config the launcher refuses): every task run fails with it. */
  private launchError: unknown;
  /** Results taken and not yet acknowledged (the next take does). */
  private unacknowledged: string[] = [];
  /** Tells this execution's workers from an earlier one's (a run Lazarus restarted). */
  private readonly tag = randomBytes(2).toString("hex");
  /** Attempts between acquire() and release() (in the queue, on a worker, or on their way back): the window. */
  private readonly slots: Semaphore;
  /** What workers say their task runs take (ms): the window widens for short ones. */
  private taskMs: number | undefined;
  private readonly client: RegentClient;
  private readonly flowRunId: string;
  private readonly pending = new Map<string, Pending>();
  private outbox: OutgoingJob[] = [];
  private sending: Promise<void> | undefined;
  private collecting: Promise<void> | undefined;
  private readonly workers = new Map<string, LiveWorker>();
  private launched = 0;
  /** Workers to start again after a pause (see ended()). */
  private relaunching = 0;
  /** Workers that ended, one after another, while no result came back: when too many, the run gives up. */
  private fruitlessExits = 0;
  private readonly stopping = new AbortController();
  private readonly wake;
  private readonly cleared: Promise<void>;

  constructor(
    private readonly settings: Settings,
    server: ServerLink,
    private readonly launcher: ClusterWorkerLauncher,
    private readonly reporter: EngineReporter,
  ) {
    this.client = server.client;
    this.flowRunId = server.flowRunId;
    // Map lanes: as many as the widest window.
    this.concurrency = Math.max(MAX_WINDOW, settings.maxWorkers * settings.perWorker * 2);
    this.slots = new Semaphore(this.window());
    this.wake = wakeUps(this.client, TaskQueueEvents, { flowRunId: this.flowRunId }, this.stopping.signal);
    // Jobs an earlier execution of this run left (it died; Lazarus restarted the run) are not run again.
    this.cleared = this.client
      .request(ClearTaskJobs, { flowRunId: this.flowRunId })
      .then(() => undefined)
      .catch(() => undefined);
    for (let i = 0; i < settings.minWorkers; i++) this.launch(true);
  }

  /**
   * Attempts let into the queue at once: twice what the workers run at once, so the next ones wait there
   * while results travel back. For task runs shorter than a second (the workers' reported durations),
   * which workers claim ahead of their free slots, four times that, plus as many as 50 ms of work for
   * every worker slot, up to MAX_WINDOW, so workers can claim them in batches.
   */
  private window(): number {
    const { maxWorkers, perWorker } = this.settings;
    const slots = maxWorkers * perWorker;
    if (this.taskMs === undefined || this.taskMs >= 1_000) return slots * 2;
    const extra = Math.floor((slots * 50) / Math.max(this.taskMs, 0.05));
    return Math.max(slots * 2, Math.min(MAX_WINDOW, slots * 4 + extra));
  }

  acquire = () => this.slots.acquire();
  release = () => this.slots.release();

  run(def: TaskDefinition, input: unknown, ctx: TaskContextImpl): Promise<unknown> {
    if (this.launchError !== undefined) throw this.launchError;
    if (!def.moduleUrl)
      throw new InvalidUsageError(
        `task "${def.name}" has no module file a cluster worker could import; define it with task() at the top level of the flow's module`,
      );
    const text = encodePayload({
      input,
      taskRunId: ctx.taskRunId,
      taskName: ctx.taskName,
      attempt: ctx.attempt,
      mapIndex: ctx.mapIndex,
      tags: ctx.tags,
      timeoutMs: def.timeoutMs,
    });
    const id = newId();
    return new Promise<unknown>((resolve, reject) => {
      const signal = ctx.signal;
      const onAbort = () => {
        // The job may still run on a worker; its late result finds no one waiting and is dropped.
        this.pending.delete(id);
        reject(signal.reason ?? new Error("aborted"));
      };
      if (signal.aborted) return onAbort();
      // Every attempt in the window listens to the run's signal (when it has no timeout of its own).
      setMaxListeners(MAX_WINDOW + 64, signal);
      signal.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      this.outbox.push({
        id,
        task_run_id: ctx.taskRunId,
        attempt: ctx.attempt,
        task_name: def.name,
        task_ordinal: def.ordinal,
        input: text,
      });
      this.sending ??= this.send();
      this.collecting ??= this.collect();
      this.scale();
    });
  }

  /** Sends what is in the outbox, in batches, until it is empty. */
  private async send(): Promise<void> {
    // One turn of the event loop first: a map's lanes put their first jobs in together.
    await new Promise((r) => setImmediate(r));
    await this.cleared;
    try {
      while (this.outbox.length > 0 && !this.stopping.signal.aborted) {
        const batch = this.outbox.slice(0, BATCH);
        this.outbox = this.outbox.slice(batch.length);
        const live = batch.filter((j) => this.pending.has(j.id));
        if (live.length === 0) continue;
        try {
          await this.withRetries(() =>
            this.client.request(EnqueueTaskJobs, { flowRunId: this.flowRunId, jobs: live }),
          );
        } catch (error) {
          const refused = this.serverRefused(error);
          for (const job of live) this.settle(job.id, undefined, refused);
        }
      }
    } finally {
      this.sending = undefined;
      if (this.outbox.length > 0 && !this.stopping.signal.aborted) this.sending = this.send();
    }
  }

  /** Takes results while any job is waiting for one. */
  private async collect(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.stopping.signal.aborted) {
        await this.wake.next();
        for (;;) {
          let taken: Awaited<ReturnType<typeof this.take>>;
          try {
            taken = await this.take();
          } catch (error) {
            // Not a server that cannot answer now (those are retried): one that will not (too old…).
            if (!this.stopping.signal.aborted) this.failAll(this.serverRefused(error));
            return;
          }
          if (taken.results.length > 0) this.fruitlessExits = 0;
          for (const r of taken.results) {
            const outcome = decodeOutcome(r.result);
            if (outcome.ms !== undefined) this.taskMs = outcome.ms;
            if (outcome.ok) this.settle(r.id, outcome.value, undefined, false);
            else this.settle(r.id, undefined, outcome.error, true);
          }
          this.slots.resize(this.window());
          if (taken.results.length < BATCH) break;
        }
      }
    } finally {
      this.collecting = undefined;
      if (this.pending.size > 0 && !this.stopping.signal.aborted) this.collecting = this.collect();
    }
  }

  private async take() {
    const ack = this.unacknowledged;
    const { take_task_results } = await this.withRetries(() =>
      this.client.request(TakeTaskResults, { flowRunId: this.flowRunId, limit: BATCH, ack }),
    );
    this.unacknowledged = take_task_results.results.map((r) => r.id);
    return take_task_results;
  }

  /** The error for a queue call the server refused: an older server lacks the queue altogether. */
  private serverRefused(error: unknown): unknown {
    const message = (error as Error).message ?? "";
    if (!/Cannot query field|Unknown (argument|type)/.test(message)) return error;
    return new RegentError(
      "API_ERROR",
      `the server at ${this.client.url} has no cluster task queue, or an older one (${message}): upgrade the server to this Regent version`,
    );
  }

  private settle(id: string, value: unknown, error: unknown, failed = error !== undefined): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (failed) p.reject(error);
    else p.resolve(value);
  }

  /**
   * Retries what failed because the server could not answer (it may be restarting, its database down),
   * as the reporter does, until the run stops: the work on the workers goes on meanwhile.
   */
  private withRetries<T>(call: () => Promise<T>): Promise<T> {
    return untilServerAnswers(call, {
      signal: this.stopping.signal,
      giveUp: () => this.stopping.signal.aborted,
      onRetry: (error, _delay, attempt) => {
        if (attempt === 1 || attempt % 20 === 0)
          this.log("warn", `cluster runner: ${error.message}; trying again`);
      },
    });
  }

  /** Starts workers while there are fewer than the waiting task runs need (within min and max). */
  private scale(): void {
    const { minWorkers, maxWorkers, perWorker } = this.settings;
    const wanted = Math.min(maxWorkers, Math.max(minWorkers, Math.ceil(this.pending.size / perWorker)));
    while (this.workers.size + this.relaunching < wanted && !this.stopping.signal.aborted) {
      const kept = [...this.workers.values()].filter((w) => w.kept).length;
      if (!this.launch(kept < minWorkers)) return;
    }
  }

  /** Starts a worker; false when the launcher refuses (then every task run fails with why). */
  private launch(kept: boolean): boolean {
    if (this.launchError !== undefined) return false;
    const { perWorker, heartbeatTimeoutMs, idleTimeoutMs } = this.settings;
    const id = `${this.flowRunId.slice(-8)}-${this.tag}-w${++this.launched}`;
    const args = [
      "--flow-run",
      this.flowRunId,
      "--worker-id",
      id,
      "--concurrency",
      String(perWorker),
      "--heartbeat-timeout",
      `${heartbeatTimeoutMs}ms`,
      ...(kept ? [] : ["--idle-exit", `${idleTimeoutMs}ms`]),
    ];
    let worker: ClusterWorker;
    try {
      worker = this.launcher.start(id, args);
    } catch (error) {
      // A run config the launcher cannot start (no image, no subnets…): no task run will run.
      this.launchError = error;
      this.log("error", `cluster runner: no worker can be started: ${(error as Error).message}`);
      this.failAll(error);
      return false;
    }
    const live: LiveWorker = { id, worker, kept };
    this.workers.set(id, live);
    void worker.ended.then((end) => this.ended(live, end));
    return true;
  }

  private ended(live: LiveWorker, { how, clean }: ClusterWorkerEnd): void {
    this.workers.delete(live.id);
    if (this.stopping.signal.aborted) return;
    const ref = live.worker.ref ? ` (${live.worker.ref})` : "";
    // A worker that ended well: idle past its timeout (beyond minWorkers), or told the run was over.
    // Workers start again as task runs wait.
    if (clean) {
      if (this.pending.size > 0) this.scale();
      return;
    }
    this.fruitlessExits++;
    const limit = Math.max(3, 2 * this.settings.maxWorkers);
    if (this.fruitlessExits >= limit) {
      this.failAll(
        new RegentError(
          "WORKER_CRASHED",
          `${this.fruitlessExits} cluster workers ended one after another without a task run finishing; the last, ${live.id}${ref}, ${how}`,
        ),
      );
      return;
    }
    // Started again after a pause that grows with each such end: a server restarting, an image still
    // pulling, must not be met with a storm of launches.
    const pause = Math.min(30_000, 500 * 2 ** (this.fruitlessExits - 1));
    this.log(
      "warn",
      `cluster worker ${live.id}${ref} ${how}; task runs it held go back to the queue once its heartbeat is ${this.settings.heartbeatTimeoutMs / 1000} s old; another starts in ${(pause / 1000).toFixed(1)} s`,
    );
    this.relaunching++;
    void abortableSleep(pause, this.stopping.signal)
      .catch(() => undefined)
      .then(() => {
        this.relaunching--;
        if (this.stopping.signal.aborted) return;
        if (live.kept) this.launch(true);
        this.scale();
      });
  }

  private failAll(error: unknown): void {
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, error, true);
  }

  private log(level: LogLevel, message: string): void {
    this.reporter.record({
      type: "log",
      log: { flowRunId: this.flowRunId, level, message, timestamp: Date.now() },
    });
  }

  async close(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    const workers = [...this.workers.values()];
    for (const w of workers) w.worker.stop(false);
    const forced = setTimeout(() => {
      for (const w of workers) w.worker.stop(true);
    }, STOP_GRACE_MS);
    await Promise.all(workers.map((w) => w.worker.ended));
    clearTimeout(forced);
    this.failAll(new RegentError("CANCELLED", "the cluster task runner was closed"));
    await this.client.request(ClearTaskJobs, { flowRunId: this.flowRunId }).catch(() => undefined);
  }
}
