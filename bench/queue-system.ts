// What bench/queue.ts measures each job queue through: a QueueSystem (the benchmark's side: queues, enqueues,
// counts what is left) and a QueueWorkerSide (what runs in each worker process: takes jobs, runs no-ops).
// Each system (queue-graphile.ts, queue-pg-boss.ts, queue-bullmq.ts, queue-regent.ts) implements both; the
// harness forks bench/dist/queue-worker.js once per worker and tells it which system and settings to run.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);

/** The systems measured, in the order they are printed. */
export const SYSTEM_NAMES = ["regent", "graphile-worker", "pg-boss", "bullmq"] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** A no-op job's payload: its index in its case (the latency phase matches starts to enqueues by it). */
export interface JobPayload {
  readonly i: number;
}

/** Where the systems keep their queues: the harness starts both and hands them to every system. */
export interface QueueBackends {
  /** A PostgreSQL server where databases may be created and dropped (postgres://…/postgres). */
  readonly pgAdminUrl: string;
  /** A Redis server whose databases may be flushed (redis://127.0.0.1:port). */
  readonly redisUrl: string;
}

/** One system, as the benchmark drives it. */
export interface QueueSystem<Config = unknown> {
  readonly name: SystemName;
  /** What the table calls it: "graphile-worker 0.17.3". */
  readonly label: string;
  /** The settings it runs with (one line, printed under the table and in the JSON). */
  readonly settings: string;
  /** Once, before any case: a template database, a server, whatever every case shares. */
  setup(): Promise<void>;
  /** A fresh, empty queue for one case (a database cloned from the template, a new queue name…). */
  prepare(caseName: string): Promise<QueueCase<Config>>;
  /** Once, after the last case (also on abort, through the harness's cleanups). */
  teardown(): Promise<void>;
}

/** A fresh queue, for one throughput case or the latency phase. */
export interface QueueCase<Config = unknown> {
  /** What each worker process needs to reach this queue (sent to it as JSON). */
  readonly workerConfig: Config;
  /** Adds a batch of jobs, the system's batch way (one round trip where it has one). */
  enqueueBatch(jobs: readonly JobPayload[]): Promise<void>;
  /** Adds one job, the way an application adds a single job. */
  enqueueOne(job: JobPayload): Promise<void>;
  /** Jobs not yet completed as the system records it (queued, held by a worker, or done but not yet stored). */
  remaining(): Promise<number>;
  /** Drops the database / queue. */
  close(): Promise<void>;
}

/** The part of a system that runs in a worker process. */
export interface QueueWorkerSide {
  /**
   * Connects and gets everything ready to take jobs, but takes none until `start()`; `onJob` is called at
   * the start of each job's handler (the job is a no-op: the handler returns right after it).
   */
  prepare(config: unknown, onJob: (job: JobPayload) => void): Promise<PreparedWorker>;
}

export interface PreparedWorker {
  /** Starts taking jobs; resolves once it has begun (not when it ends). */
  start(): Promise<void>;
  /** Stops taking jobs, finishes (and records) the ones it holds, closes its connections. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Messages between the harness and a worker process (child_process IPC, JSON)

export type WorkerMode = "throughput" | "latency";

export type ToWorker =
  | {
      readonly type: "init";
      readonly system: SystemName;
      readonly config: unknown;
      readonly mode: WorkerMode;
    }
  | { readonly type: "go" }
  | { readonly type: "stop" };

export type FromWorker =
  | { readonly type: "ready" }
  /** Throughput mode, every PROGRESS_MS while it changes: jobs handled so far, first and last handler time. */
  | { readonly type: "progress"; readonly handled: number; readonly firstAt: number; readonly lastAt: number }
  /** Latency mode: a job's handler started (epoch ms). */
  | { readonly type: "started"; readonly i: number; readonly at: number }
  | { readonly type: "stopped" }
  | { readonly type: "error"; readonly message: string };

/** How often a worker in throughput mode reports its count. */
export const PROGRESS_MS = 10;

/** Wall-clock ms with sub-ms precision, comparable between processes of one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The version of an installed package (its package.json), for the table. */
export function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "?";
  }
}
