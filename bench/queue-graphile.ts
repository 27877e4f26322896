// graphile-worker in bench/queue, with the settings of its documentation's performance page
// (https://worker.graphile.org/docs/performance, "Quick stats"): 24 concurrent jobs per worker process, a
// pool of 25 connections, a local queue of 500 jobs, job completions and failures batched with no delay.
// New jobs reach idle workers by LISTEN/NOTIFY (on by default; pollInterval only matters for jobs due later).
import { Logger, makeWorkerUtils, run, runMigrations, type WorkerUtils } from "graphile-worker";
import pg from "pg";
import { type BenchDatabase, createDatabase } from "./queue-pg.js";
import {
  type JobPayload,
  type PreparedWorker,
  packageVersion,
  type QueueBackends,
  type QueueCase,
  type QueueSystem,
  type QueueWorkerSide,
} from "./queue-system.js";

const SETTINGS = {
  concurrentJobs: 24,
  maxPoolSize: 25,
  localQueueSize: 500,
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
  pollInterval: 2_000,
} as const;

const TASK = "noop";

interface GraphileConfig {
  readonly connectionString: string;
}

/** Errors to standard error, nothing else (its info lines would swamp the benchmark's output). */
const logger = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`);
});

export function graphileSystem(backends: QueueBackends): QueueSystem<GraphileConfig> {
  let template: BenchDatabase | undefined;
  return {
    name: "graphile-worker",
    label: `graphile-worker ${packageVersion("graphile-worker")}`,
    settings:
      `concurrentJobs ${SETTINGS.concurrentJobs}, maxPoolSize ${SETTINGS.maxPoolSize}, localQueue.size ${SETTINGS.localQueueSize}, ` +
      `completeJobBatchDelay ${SETTINGS.completeJobBatchDelay}, failJobBatchDelay ${SETTINGS.failJobBatchDelay}, ` +
      `pollInterval ${SETTINGS.pollInterval} ms (LISTEN/NOTIFY on); addJobs() batches, addJob() singly`,
    async setup() {
      template = await createDatabase(backends.pgAdminUrl, "queue_graphile_tpl");
      await runMigrations({ connectionString: template.url, logger });
    },
    async prepare() {
      if (!template) throw new Error("graphile-worker: setup() was not run");
      const db = await createDatabase(backends.pgAdminUrl, "queue_graphile", template.name);
      let utils: WorkerUtils;
      try {
        utils = await makeWorkerUtils({ connectionString: db.url, logger });
      } catch (error) {
        await db.drop();
        throw error;
      }
      return {
        workerConfig: { connectionString: db.url },
        async enqueueBatch(jobs) {
          await utils.addJobs(jobs.map((payload) => ({ identifier: TASK, payload })));
        },
        async enqueueOne(job) {
          await utils.addJob(TASK, job);
        },
        async remaining() {
          // Completed jobs are deleted; what is left is queued, locked, or failed.
          const { rows } = await utils.withPgClient((client) =>
            client.query<{ n: number }>("select count(*)::int as n from graphile_worker._private_jobs"),
          );
          return rows[0]!.n;
        },
        async close() {
          await utils.release();
          await db.drop();
        },
      } satisfies QueueCase<GraphileConfig>;
    },
    async teardown() {
      await template?.drop();
    },
  };
}

export const graphileWorkerSide: QueueWorkerSide = {
  async prepare(config, onJob): Promise<PreparedWorker> {
    const { connectionString } = config as GraphileConfig;
    const pgPool = new pg.Pool({ connectionString, max: SETTINGS.maxPoolSize });
    const onError = (error: Error) => process.stderr.write(`graphile-worker pool: ${error.message}\n`);
    pgPool.on("error", onError);
    pgPool.on("connect", (client) => client.on("error", onError));
    // One connection up front, so that start() does not also time the first connect.
    (await pgPool.connect()).release();
    let runner: Awaited<ReturnType<typeof run>> | undefined;
    return {
      async start() {
        runner = await run({
          pgPool,
          logger,
          concurrency: SETTINGS.concurrentJobs,
          pollInterval: SETTINGS.pollInterval,
          noHandleSignals: true,
          taskList: {
            [TASK]: async (payload) => {
              onJob(payload as JobPayload);
            },
          },
          preset: {
            worker: {
              localQueue: { size: SETTINGS.localQueueSize },
              completeJobBatchDelay: SETTINGS.completeJobBatchDelay,
              failJobBatchDelay: SETTINGS.failJobBatchDelay,
            },
          },
        });
      },
      async stop() {
        await runner?.stop();
        await pgPool.end();
      },
    };
  },
};
