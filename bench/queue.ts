// Benchmark of job queues on one machine, in one invocation: no-op jobs per second through the queue with 1,
// 2 and 4 worker processes, and the latency from enqueueing a job to its handler starting, for Regent's own
// task queue (PostgreSQL, over its GraphQL API) beside graphile-worker and pg-boss (PostgreSQL) and BullMQ
// (Redis), each with its own recommended performance settings. Prints figures, asserts nothing.
//
//   npm run build && npm run bench:queue
//   node bench/dist/queue.js --json                 # the same figures as JSON
//   node bench/dist/queue.js --only graphile-worker,bullmq --jobs 5000
//   node bench/dist/queue.js --only regent --regent-claim-limit 500   # Regent's workers claim 500 at a time
//
// PostgreSQL is the cluster REGENT_TEST_PG_URL names, else a throwaway one from scripts/testbed/postgres.sh
// (durability off: fsync, synchronous_commit); Redis is REGENT_TEST_REDIS_URL's, else one from
// scripts/testbed/redis.sh (persistence off). Both are stopped at the end when started here. Each system
// gets fresh databases (a template migrated once, cloned per case) or a fresh queue per case.
//
// Throughput, for each system and 1, 2 and 4 workers: the workers (each a process forked from
// bench/dist/queue-worker.js) connect and wait; JOBS jobs are enqueued in batches of ENQUEUE_BATCH (fewer
// if ENQUEUE_BUDGET_MS runs out); then all workers are told to go, and the queue is drained. Figures:
// claim→done = from the first handler start to the moment the queue holds no uncompleted job (read by
// polling the system's own count every DRAIN_POLL_MS once the workers have reported every job handled),
// and first enqueue→last done = from the first enqueue call to that same moment.
//
// Latency, for each system with one worker on an idle queue: jobs enqueued one at a time (the system's
// single-job call), one every 40–60 ms (random, so that a polling system's phase is not locked to the
// pace); the figure is the handler's start (the worker's clock) minus the moment the enqueue call was
// made (the benchmark's clock; one machine, wall-clock ms with sub-ms precision).
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { abort, checkNotAborting, children, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, machine, median, percentile, round } from "./figures.js";
import { bullmqSystem } from "./queue-bullmq.js";
import { graphileSystem } from "./queue-graphile.js";
import { pgBossSystem } from "./queue-pg-boss.js";
import { regentSystem } from "./queue-regent.js";
import {
  epochNow,
  type FromWorker,
  type JobPayload,
  type QueueBackends,
  type QueueCase,
  type QueueSystem,
  SYSTEM_NAMES,
  type SystemName,
  sleep,
  type ToWorker,
  type WorkerMode,
} from "./queue-system.js";
import { measureTaskRuns, type TaskRunResult, taskRunReport } from "./queue-task-runs.js";

/** No-op task runs a flow maps in the Regent task-run cases (bench/queue-task-runs.ts). */
const TASK_RUNS = Number(argValue("--task-runs") ?? 10_000);
/** Jobs per throughput case (fewer when ENQUEUE_BUDGET_MS runs out first). */
const JOBS = Number(argValue("--jobs") ?? 20_000);
const WORKER_COUNTS = [1, 2, 4] as const;
const ENQUEUE_BATCH = 500;
const ENQUEUE_BUDGET_MS = 15_000;
/** From "go" until every job has been handled; a case past it reports what was handled (timed out). */
const PROCESS_BUDGET_MS = 25_000;
/** After every job was handled, until the system's count of uncompleted jobs reads 0. */
const DRAIN_BUDGET_MS = 10_000;
const DRAIN_POLL_MS = 5;
/** Latency: warm-ups (not counted), then samples, one every LATENCY_GAP_MS (uniformly random in the range). */
const LATENCY_WARMUPS = 20;
const LATENCY_SAMPLES = 200;
const LATENCY_GAP_MS = [40, 60] as const;
/** Latency: the worker waits this long after "go" before the first job (it connects, subscribes…). */
const LATENCY_SETTLE_MS = 1_000;
/** Latency: the phase stops sending after this long; a job not started this long after the last is lost. */
const LATENCY_BUDGET_MS = 20_000;
const LATENCY_LATE_MS = 5_000;
const WORKER_READY_MS = 30_000;
const WORKER_STOP_MS = 10_000;
/** No case or phase starts after this much time has gone by (it is reported as skipped)… */
const SOFT_DEADLINE_MS = 220_000;
/** …and everything is killed after this. */
const WATCHDOG_MS = 330_000;

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const WORKER_JS = fileURLToPath(new URL("./queue-worker.js", import.meta.url));

const started = performance.now();
const elapsed = () => performance.now() - started;
const json = process.argv.includes("--json");
const progress = (line: string) => process.stderr.write(`bench/queue: ${line}\n`);

// ---------------------------------------------------------------------------------------------------
// Figures

interface ThroughputFigure {
  readonly workers: number;
  /** Jobs enqueued (JOBS unless the enqueue budget ran out). */
  readonly jobs: number;
  /** Handler runs the workers reported (more than `jobs`: some job ran twice). */
  readonly handled: number;
  readonly perWorker: number[];
  readonly enqueueMs: number;
  readonly enqueuePerSecond: number;
  /** "go" → the first handler start: the workers starting to take jobs. */
  readonly goToFirstMs: number;
  /** First handler start → last handler start. */
  readonly handlersMs: number;
  /** First handler start → no uncompleted job left. */
  readonly claimToDoneMs: number;
  readonly claimToDonePerSecond: number;
  /** First enqueue call → no uncompleted job left. */
  readonly endToEndMs: number;
  readonly endToEndPerSecond: number;
  /** Set when the case ran out of time: the rates are then of what was handled. */
  readonly timedOut?: string;
}

interface LatencyFigure {
  readonly samples: number;
  readonly lost: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly minMs: number;
  /** The enqueue call's own time (it is part of the latency). */
  readonly enqueueCallP50Ms: number;
  readonly latenciesMs: number[];
}

type Outcome<T> = T | { skipped: string } | { error: string };
const isFigure = <T extends object>(x: Outcome<T>): x is T => !("skipped" in x) && !("error" in x);
/** A throughput case: its figure, or why there is none. */
type ThroughputOutcome =
  | ThroughputFigure
  | { workers: number; skipped: string }
  | { workers: number; error: string };
const isThroughput = (x: ThroughputOutcome | undefined): x is ThroughputFigure =>
  x !== undefined && !("skipped" in x) && !("error" in x);

interface SystemResult {
  readonly name: SystemName;
  readonly label: string;
  readonly settings: string;
  status: "measured" | "skipped" | "error";
  reason?: string;
  throughput: ThroughputOutcome[];
  latency: Outcome<LatencyFigure>;
}

// ---------------------------------------------------------------------------------------------------
// Worker processes

interface WorkerChild {
  readonly child: ChildProcess;
  readonly label: string;
  handled: number;
  firstAt: number;
  lastAt: number;
  send(message: ToWorker): void;
  /** Resolves once it has exited. */
  readonly exited: Promise<void>;
  /** Why it failed (an error it reported, or an exit nobody asked for), if it did. */
  failure?: string;
}

/** Forks `count` workers of `system` and waits until each has connected and is ready to take jobs. */
async function startWorkers(
  system: SystemName,
  config: unknown,
  count: number,
  mode: WorkerMode,
  onStarted?: (i: number, at: number) => void,
): Promise<WorkerChild[]> {
  const workers: WorkerChild[] = [];
  const ready: Promise<void>[] = [];
  for (let n = 1; n <= count; n++) {
    checkNotAborting();
    // Its output goes to standard error, prefixed: standard output carries only the figures (or JSON).
    const child = fork(WORKER_JS, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    children.add(child);
    const label = `${system} worker ${n}/${count}`;
    let stderr = "";
    const forward = (d: string) => {
      stderr = (stderr + d).slice(-4_000);
      for (const line of d.trimEnd().split("\n")) progress(`[${label}] ${line}`);
    };
    child.stdout!.setEncoding("utf8").on("data", forward);
    child.stderr!.setEncoding("utf8").on("data", forward);
    let stopping = false;
    const exited = new Promise<void>((res) =>
      child.once("exit", (code, signal) => {
        children.delete(child);
        if (!stopping && !worker.failure)
          worker.failure = `exited with ${signal ?? `code ${code}`}: ${stderr.trim()}`;
        res();
      }),
    );
    const worker: WorkerChild = {
      child,
      label,
      handled: 0,
      firstAt: 0,
      lastAt: 0,
      exited,
      send(message) {
        if (message.type === "stop") stopping = true;
        if (child.connected) child.send(message);
      },
    };
    ready.push(
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${label} was not ready in ${WORKER_READY_MS / 1000} s`)),
          WORKER_READY_MS,
        );
        child.on("message", (message: FromWorker) => {
          switch (message.type) {
            case "ready":
              clearTimeout(timer);
              resolve();
              break;
            case "progress":
              worker.handled = message.handled;
              worker.firstAt = message.firstAt;
              worker.lastAt = message.lastAt;
              break;
            case "started":
              onStarted?.(message.i, message.at);
              break;
            case "stopped":
              break;
            case "error":
              worker.failure = message.message;
              clearTimeout(timer);
              reject(new Error(`${label}: ${message.message}`));
              break;
            default:
              message satisfies never;
          }
        });
        exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${label} ${worker.failure ?? "exited"} before it was ready`));
        });
      }),
    );
    workers.push(worker);
    worker.send({ type: "init", system, config, mode });
  }
  try {
    await Promise.all(ready);
  } catch (error) {
    await stopWorkers(workers);
    throw error;
  }
  return workers;
}

/** Asks each worker to stop (it finishes what it holds), SIGKILL after WORKER_STOP_MS. */
async function stopWorkers(workers: readonly WorkerChild[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.send({ type: "stop" });
      const timer = setTimeout(() => w.child.kill("SIGKILL"), WORKER_STOP_MS);
      await w.exited;
      clearTimeout(timer);
    }),
  );
}

function checkWorkers(workers: readonly WorkerChild[]): void {
  const failed = workers.find((w) => w.failure);
  if (failed) throw new Error(`${failed.label} failed: ${failed.failure}`);
}

// ---------------------------------------------------------------------------------------------------
// The measurements

async function withCase<T>(qc: QueueCase, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await qc.close().catch((error: Error) => progress(`closing the queue failed: ${error.message}`));
  }
}

async function measureThroughput(system: QueueSystem, workerCount: number): Promise<ThroughputFigure> {
  const qc = await system.prepare(`t${workerCount}`);
  return withCase(qc, async () => {
    const workers = await startWorkers(system.name, qc.workerConfig, workerCount, "throughput");
    try {
      const enqueueStart = epochNow();
      let jobs = 0;
      while (jobs < JOBS && epochNow() - enqueueStart < ENQUEUE_BUDGET_MS) {
        checkNotAborting();
        const batch: JobPayload[] = [];
        for (let j = 0; j < Math.min(ENQUEUE_BATCH, JOBS - jobs); j++) batch.push({ i: jobs + j });
        await qc.enqueueBatch(batch);
        jobs += batch.length;
      }
      const enqueueEnd = epochNow();
      const goAt = epochNow();
      for (const w of workers) w.send({ type: "go" });
      const handled = () => workers.reduce((a, w) => a + w.handled, 0);
      while (handled() < jobs && epochNow() - goAt < PROCESS_BUDGET_MS) {
        checkNotAborting();
        checkWorkers(workers);
        await sleep(2);
      }
      let doneAt = Number.NaN;
      let timedOut: string | undefined;
      if (handled() >= jobs) {
        const drainStart = epochNow();
        let left = -1;
        while (epochNow() - drainStart < DRAIN_BUDGET_MS) {
          left = await qc.remaining();
          if (left === 0) {
            doneAt = epochNow();
            break;
          }
          await sleep(DRAIN_POLL_MS);
        }
        if (left !== 0)
          timedOut = `${left} jobs still not completed ${DRAIN_BUDGET_MS / 1000} s after all were handled`;
      } else {
        timedOut = `${handled()} of ${jobs} handled in ${PROCESS_BUDGET_MS / 1000} s`;
      }
      const active = workers.filter((w) => w.handled > 0);
      const firstAt = Math.min(...active.map((w) => w.firstAt));
      const lastAt = Math.max(...active.map((w) => w.lastAt));
      // Timed out: the rates are those of the jobs handled, up to the last one.
      const endAt = Number.isNaN(doneAt) ? lastAt : doneAt;
      const count = Number.isNaN(doneAt) ? handled() : jobs;
      const rate = (n: number, ms: number) => round((n / ms) * 1000, 0);
      return {
        workers: workerCount,
        jobs,
        handled: handled(),
        perWorker: workers.map((w) => w.handled),
        enqueueMs: round(enqueueEnd - enqueueStart, 1),
        enqueuePerSecond: rate(jobs, enqueueEnd - enqueueStart),
        goToFirstMs: round(firstAt - goAt, 1),
        handlersMs: round(lastAt - firstAt, 1),
        claimToDoneMs: round(endAt - firstAt, 1),
        claimToDonePerSecond: rate(count, endAt - firstAt),
        endToEndMs: round(endAt - enqueueStart, 1),
        endToEndPerSecond: rate(count, endAt - enqueueStart),
        ...(timedOut ? { timedOut } : {}),
      };
    } finally {
      await stopWorkers(workers);
    }
  });
}

async function measureLatency(system: QueueSystem): Promise<LatencyFigure> {
  const qc = await system.prepare("latency");
  return withCase(qc, async () => {
    const startedAt = new Map<number, number>();
    const workers = await startWorkers(system.name, qc.workerConfig, 1, "latency", (i, at) => {
      if (!startedAt.has(i)) startedAt.set(i, at);
    });
    try {
      for (const w of workers) w.send({ type: "go" });
      await sleep(LATENCY_SETTLE_MS);
      const sentAt = new Map<number, number>();
      const enqueueCallMs: number[] = [];
      const phaseStart = performance.now();
      let next = performance.now();
      for (let i = 0; i < LATENCY_WARMUPS + LATENCY_SAMPLES; i++) {
        if (performance.now() - phaseStart > LATENCY_BUDGET_MS) break;
        checkNotAborting();
        checkWorkers(workers);
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        const t0 = epochNow();
        await qc.enqueueOne({ i });
        const t1 = epochNow();
        sentAt.set(i, t0);
        if (i >= LATENCY_WARMUPS) enqueueCallMs.push(t1 - t0);
        const [lo, hi] = LATENCY_GAP_MS;
        next = Math.max(next + lo + Math.random() * (hi - lo), performance.now());
      }
      const lateUntil = performance.now() + LATENCY_LATE_MS;
      while ([...sentAt.keys()].some((i) => !startedAt.has(i)) && performance.now() < lateUntil) {
        checkWorkers(workers);
        await sleep(5);
      }
      const latencies: number[] = [];
      let lost = 0;
      for (const [i, t0] of sentAt) {
        if (i < LATENCY_WARMUPS) continue;
        const at = startedAt.get(i);
        if (at === undefined) lost++;
        else latencies.push(at - t0);
      }
      const p = (q: number) => round(percentile(latencies, q), 2);
      return {
        samples: latencies.length,
        lost,
        p50Ms: p(50),
        p95Ms: p(95),
        p99Ms: p(99),
        maxMs: round(latencies.length ? Math.max(...latencies) : Number.NaN, 2),
        minMs: round(latencies.length ? Math.min(...latencies) : Number.NaN, 2),
        enqueueCallP50Ms: round(percentile(enqueueCallMs, 50), 2),
        latenciesMs: latencies.map((x) => round(x, 2)),
      };
    } finally {
      await stopWorkers(workers);
    }
  });
}

/** Runs one measurement, turning its failure into an { error } (or a { skipped } past the deadline). */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  if (elapsed() > SOFT_DEADLINE_MS)
    return { skipped: `not started: ${Math.round(SOFT_DEADLINE_MS / 1000)} s time budget used up` };
  progress(what);
  try {
    return await fn();
  } catch (error) {
    checkNotAborting();
    progress(`  failed: ${(error as Error).message}`);
    return { error: (error as Error).message.split("\n")[0]! };
  }
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL and Redis

/** Starts a testbed script's server unless `urlVar` is set; its stop is also a registered cleanup. */
function testbed(
  script: "postgres.sh" | "redis.sh",
  urlVar: string,
  dirVar: string,
): { url: string; stop: () => Promise<void> } {
  const given = process.env[urlVar];
  if (given) return { url: given, stop: async () => {} };
  const path = join(REPO, "scripts/testbed", script);
  progress(`starting a throwaway server (scripts/testbed/${script})…`);
  const exports = execFileSync("bash", [path, "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    // Not the caller's: a fresh one is started, and stopped at the end.
    env: { ...process.env, [dirVar]: "" },
  });
  const vars = new Map([...exports.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const url = vars.get(urlVar);
  const dir = vars.get(dirVar);
  if (!url || !dir)
    throw new Error(`scripts/testbed/${script} printed no ${urlVar} / ${dirVar}:\n${exports}`);
  const stop = onCleanup(async () => {
    execFileSync("bash", [path, "stop", dir], { stdio: "ignore" });
  });
  return { url, stop };
}

async function backendVersions(backends: QueueBackends): Promise<{ postgres: string; redis: string }> {
  const client = new pg.Client({ connectionString: backends.pgAdminUrl });
  await client.connect();
  const { rows } = await client.query<{ v: string }>("select current_setting('server_version') as v");
  await client.end();
  const url = new URL(backends.redisUrl);
  const redis = new Redis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true });
  await redis.connect();
  const info = await redis.info("server");
  redis.disconnect();
  return { postgres: rows[0]?.v.split(" ")[0] ?? "?", redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "?" };
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  guardProcess("bench/queue", WATCHDOG_MS);
  // An error event nobody handles (a library's connection cut…) must not end the process before the
  // cleanups have stopped the testbed servers and dropped the databases.
  const fatal = (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    void abort("uncaught error", 1);
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  const only = argValue("--only")?.split(",");
  for (const name of only ?? [])
    if (!(SYSTEM_NAMES as readonly string[]).includes(name))
      throw new Error(
        `--only takes ${SYSTEM_NAMES.join(", ")} (comma-separated), not ${JSON.stringify(name)}`,
      );
  if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`--jobs takes a whole number, not ${JOBS}`);

  const postgres = testbed("postgres.sh", "REGENT_TEST_PG_URL", "REGENT_TEST_PG_DIR");
  try {
    const redis = testbed("redis.sh", "REGENT_TEST_REDIS_URL", "REGENT_TEST_REDIS_DIR");
    try {
      await measureAll({ pgAdminUrl: postgres.url, redisUrl: redis.url }, only);
    } finally {
      await redis.stop();
    }
  } finally {
    await postgres.stop();
  }
}

async function measureAll(backends: QueueBackends, only: string[] | undefined): Promise<void> {
  const versions = await backendVersions(backends);
  progress(
    `PostgreSQL ${versions.postgres} at ${backends.pgAdminUrl}, Redis ${versions.redis} at ${backends.redisUrl}`,
  );

  const regent = regentSystem(backends);
  const systems: QueueSystem[] = [
    regent,
    graphileSystem(backends),
    pgBossSystem(backends),
    bullmqSystem(backends),
  ];
  const results: SystemResult[] = [];
  for (const system of systems) {
    const result: SystemResult = {
      name: system.name,
      label: system.label,
      settings: system.settings,
      status: "measured",
      throughput: [],
      latency: { skipped: "not run" },
    };
    results.push(result);
    const skip = (reason: string) => {
      result.status = "skipped";
      result.reason = reason;
      result.latency = { skipped: reason };
    };
    if (only && !only.includes(system.name)) {
      skip("--only");
      continue;
    }
    const unavailable = system === regent ? regent.unavailable() : undefined;
    if (unavailable) {
      skip(unavailable);
      progress(`${system.label}: skipped: ${unavailable}`);
      continue;
    }
    if (elapsed() > SOFT_DEADLINE_MS) {
      skip("time budget used up");
      continue;
    }
    const teardown = onCleanup(() => system.teardown());
    try {
      progress(`${system.label}: setting up…`);
      try {
        await system.setup();
      } catch (error) {
        checkNotAborting();
        result.status = "error";
        result.reason = (error as Error).message.split("\n")[0]!;
        result.latency = { error: result.reason };
        progress(`${system.label}: setup failed: ${(error as Error).message}`);
        continue;
      }
      for (const workers of WORKER_COUNTS) {
        const figure = await attempt(`${system.label}: throughput with ${workers} worker(s)…`, () =>
          measureThroughput(system, workers),
        );
        result.throughput.push({ ...figure, workers });
        if (isFigure(figure))
          progress(
            `  ${figure.claimToDonePerSecond.toLocaleString("en")} jobs/s claim→done, ${figure.endToEndPerSecond.toLocaleString("en")} jobs/s end to end${figure.timedOut ? ` (timed out: ${figure.timedOut})` : ""}`,
          );
      }
      result.latency = await attempt(`${system.label}: latency…`, () => measureLatency(system));
      if (isFigure(result.latency))
        progress(`  latency p50 ${result.latency.p50Ms} ms, p95 ${result.latency.p95Ms} ms`);
    } finally {
      await teardown();
    }
  }

  let taskRuns: TaskRunResult | undefined;
  if ((!only || only.includes("regent")) && !regent.unavailable()) {
    taskRuns = await attempt("Regent task runs (clusterTaskRunner)…", () =>
      measureTaskRuns(backends.pgAdminUrl, TASK_RUNS, progress),
    ).then((r) => ("tasks" in r ? r : undefined));
  }

  const totalSeconds = round(elapsed() / 1000, 1);
  const settings = {
    jobs: JOBS,
    workerCounts: WORKER_COUNTS,
    enqueueBatch: ENQUEUE_BATCH,
    budgetsMs: { enqueue: ENQUEUE_BUDGET_MS, process: PROCESS_BUDGET_MS, drain: DRAIN_BUDGET_MS },
    latency: { warmups: LATENCY_WARMUPS, samples: LATENCY_SAMPLES, gapMs: LATENCY_GAP_MS, workers: 1 },
  };
  const targets = regentTargets(results);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ systems: results, targets: targets ?? null, taskRuns: taskRuns ?? null, settings, backends: versions, environment: machine(), totalSeconds }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(`${report(results, targets, versions, totalSeconds, taskRuns)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// The issue's target: Regent at least as fast as graphile-worker, and at least as quick to start a job.

interface Targets {
  /** Per worker count: Regent's claim→done jobs/s ≥ graphile-worker's. */
  readonly throughput: Array<{ workers: number; regent: number; graphile: number; met: boolean }>;
  readonly latency?: {
    regentP50: number;
    regentP95: number;
    graphileP50: number;
    graphileP95: number;
    met: boolean;
  };
}

function regentTargets(results: readonly SystemResult[]): Targets | undefined {
  const regent = results.find((r) => r.name === "regent");
  const graphile = results.find((r) => r.name === "graphile-worker");
  if (regent?.status !== "measured" || graphile?.status !== "measured") return undefined;
  const throughput: Targets["throughput"] = [];
  for (const workers of WORKER_COUNTS) {
    const r = regent.throughput.find((t) => t.workers === workers);
    const g = graphile.throughput.find((t) => t.workers === workers);
    if (!isThroughput(r) || !isThroughput(g) || r.timedOut || g.timedOut) continue;
    throughput.push({
      workers,
      regent: r.claimToDonePerSecond,
      graphile: g.claimToDonePerSecond,
      met: r.claimToDonePerSecond >= g.claimToDonePerSecond,
    });
  }
  const rl = regent.latency;
  const gl = graphile.latency;
  const latency =
    isFigure(rl) && isFigure(gl)
      ? {
          regentP50: rl.p50Ms,
          regentP95: rl.p95Ms,
          graphileP50: gl.p50Ms,
          graphileP95: gl.p95Ms,
          met: rl.p50Ms <= gl.p50Ms && rl.p95Ms <= gl.p95Ms,
        }
      : undefined;
  return { throughput, ...(latency ? { latency } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// The table

function report(
  results: readonly SystemResult[],
  targets: Targets | undefined,
  versions: { postgres: string; redis: string },
  totalSeconds: number,
  taskRuns: TaskRunResult | undefined,
): string {
  const host = machine();
  const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en") : "n/a");
  const ms = (x: number) =>
    Number.isFinite(x)
      ? x.toLocaleString("en", { minimumFractionDigits: 1, maximumFractionDigits: 1 })
      : "n/a";
  const LABEL = 30;
  const COL = 10;
  const notes: string[] = [];
  const cell = (outcome: ThroughputOutcome | undefined, pick: (f: ThroughputFigure) => number) => {
    if (!outcome) return "–".padStart(COL);
    if (!isThroughput(outcome)) return ("skipped" in outcome ? "skipped" : "error").padStart(COL);
    return `${n(pick(outcome))}${outcome.timedOut ? "*" : ""}`.padStart(COL);
  };
  const out = [
    "",
    `Job queues, no-op jobs — node ${host.node}, ${host.platform}, ${host.cpus} CPUs (${host.cpuModel})`,
    `PostgreSQL ${versions.postgres} (throwaway cluster: fsync and synchronous_commit off unless REGENT_TEST_PG_URL), Redis ${versions.redis}; all on 127.0.0.1`,
    "",
    `  Throughput, jobs/s: ${JOBS.toLocaleString("en")} jobs a case, enqueued in batches of ${ENQUEUE_BATCH} while the workers wait, then drained;`,
    "  each worker is a process. claim→done: first handler start → no uncompleted job left; end to end: first",
    "  enqueue → the same moment; enqueue: the batches' rate (median of the three cases).",
    "",
    `  ${"".padEnd(LABEL)}${"claim→done".padEnd(COL * 3 + 2)}${"end to end".padEnd(COL * 3 + 2)}enqueue`,
    `  ${"workers".padEnd(LABEL)}${WORKER_COUNTS.map((w) => String(w).padStart(COL)).join("")}  ${WORKER_COUNTS.map((w) => String(w).padStart(COL)).join("")}  ${"".padStart(COL)}`,
  ];
  for (const r of results) {
    if (r.status !== "measured") {
      out.push(`  ${r.label.padEnd(LABEL)}${r.status}: ${r.reason ?? ""}`);
      continue;
    }
    const byWorkers = (w: number) => r.throughput.find((t) => t.workers === w);
    const enqueueRates = r.throughput.filter(isThroughput).map((t) => t.enqueuePerSecond);
    out.push(
      `  ${r.label.padEnd(LABEL)}${WORKER_COUNTS.map((w) => cell(byWorkers(w), (f) => f.claimToDonePerSecond)).join("")}  ${WORKER_COUNTS.map((w) => cell(byWorkers(w), (f) => f.endToEndPerSecond)).join("")}  ${(enqueueRates.length ? n(median(enqueueRates)) : "n/a").padStart(COL)}`,
    );
    for (const t of r.throughput) {
      const what = `${r.label}, ${t.workers} worker(s)`;
      if (!isThroughput(t)) {
        notes.push(`${what}: ${"error" in t ? t.error : t.skipped}`);
        continue;
      }
      if (t.timedOut) notes.push(`${what}: * timed out: ${t.timedOut}`);
      if (t.handled > t.jobs)
        notes.push(`${what}: ${t.handled - t.jobs} handler runs more than jobs (run twice)`);
      if (t.jobs < JOBS) notes.push(`${what}: ${t.jobs} jobs (the enqueue budget ran out)`);
    }
  }
  out.push(
    "",
    `  Latency, enqueue call → handler start, ms: one worker on an idle queue, ${LATENCY_SAMPLES} jobs one at a time`,
    `  (after ${LATENCY_WARMUPS} warm-ups), one every ${LATENCY_GAP_MS[0]}–${LATENCY_GAP_MS[1]} ms; the enqueue call's own time is part of it.`,
    "",
    `  ${"".padEnd(LABEL)}${["p50", "p95", "p99", "max"].map((h) => h.padStart(COL)).join("")}${"enqueue call p50".padStart(COL + 8)}`,
  );
  for (const r of results) {
    if (r.status !== "measured") continue;
    const l = r.latency;
    if (!isFigure(l)) {
      out.push(`  ${r.label.padEnd(LABEL)}${"error" in l ? `error: ${l.error}` : `skipped: ${l.skipped}`}`);
      continue;
    }
    out.push(
      `  ${r.label.padEnd(LABEL)}${[l.p50Ms, l.p95Ms, l.p99Ms, l.maxMs].map((x) => ms(x).padStart(COL)).join("")}${ms(l.enqueueCallP50Ms).padStart(COL + 8)}`,
    );
    if (l.lost > 0)
      notes.push(`${r.label}, latency: ${l.lost} jobs did not start within ${LATENCY_LATE_MS / 1000} s`);
  }
  if (targets) {
    const verdict = (met: boolean) => (met ? "met" : "MISSED");
    out.push(
      "",
      "  Target (the issue): Regent at least graphile-worker's throughput and dispatch latency, same run:",
    );
    for (const t of targets.throughput)
      out.push(
        `    ${t.workers} worker(s): claim→done ${n(t.regent)} vs ${n(t.graphile)} jobs/s   ${verdict(t.met)}`,
      );
    if (targets.latency)
      out.push(
        `    latency: p50 ${ms(targets.latency.regentP50)} vs ${ms(targets.latency.graphileP50)} ms, p95 ${ms(targets.latency.regentP95)} vs ${ms(targets.latency.graphileP95)} ms   ${verdict(targets.latency.met)}`,
      );
  }
  if (taskRuns) out.push(...taskRunReport(taskRuns));
  if (notes.length) out.push("", ...notes.map((x) => `  ${x}`));
  out.push("", "  Settings:");
  for (const r of results) out.push(`    ${r.label}: ${r.settings}`);
  out.push("", `  total benchmark time: ${totalSeconds} s`, "");
  return out.join("\n");
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  await abort("failed", 1);
}
