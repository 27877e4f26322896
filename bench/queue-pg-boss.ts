// pg-boss in bench/queue. It has no LISTEN/NOTIFY: each work() loop polls, fetching up to `batchSize` jobs
// and completing them in one statement, then waits out the rest of `pollingIntervalSeconds` (0.5 s is the
// least it allows) even when it found jobs, so a process takes at most batchSize × loops / 0.5 s jobs a
// second. Its docs' throughput settings are those two options and more work() calls per process; of the
// combinations tried on the development machine (bench/README.md), 1,000 × 2 was the fastest overall.
import pg from "pg";
import PgBoss from "pg-boss";
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
  batchSize: 1_000,
  pollingIntervalSeconds: 0.5,
  /** work() calls per worker process (each its own polling loop). */
  workLoops: 2,
  /** Its connection pool per process (pg-boss's default is 10). */
  max: 10,
} as const;

const QUEUE = "noop";

interface PgBossConfig {
  readonly connectionString: string;
}

/** Maintenance, scheduling and migration stay off except where the schema is made (the template). */
const quiet = { supervise: false, schedule: false, migrate: false } as const;

function onError(boss: PgBoss): PgBoss {
  boss.on("error", (error: Error) => process.stderr.write(`pg-boss: ${error.message}\n`));
  return boss;
}

export function pgBossSystem(backends: QueueBackends): QueueSystem<PgBossConfig> {
  let template: BenchDatabase | undefined;
  return {
    name: "pg-boss",
    label: `pg-boss ${packageVersion("pg-boss")}`,
    settings:
      `work({ batchSize: ${SETTINGS.batchSize}, pollingIntervalSeconds: ${SETTINGS.pollingIntervalSeconds} }) × ${SETTINGS.workLoops} per process, ` +
      `pool max ${SETTINGS.max}, queue policy standard; insert() batches, send() singly`,
    async setup() {
      template = await createDatabase(backends.pgAdminUrl, "queue_pgboss_tpl");
      const boss = onError(new PgBoss({ connectionString: template.url, supervise: false, schedule: false }));
      await boss.start();
      await boss.createQueue(QUEUE);
      await boss.stop({ graceful: false, wait: true });
    },
    async prepare() {
      if (!template) throw new Error("pg-boss: setup() was not run");
      const db = await createDatabase(backends.pgAdminUrl, "queue_pgboss", template.name);
      const boss = onError(new PgBoss({ connectionString: db.url, ...quiet }));
      const counter = new pg.Pool({ connectionString: db.url, max: 1 });
      counter.on("error", (error) => process.stderr.write(`pg-boss counter: ${error.message}\n`));
      try {
        await boss.start();
      } catch (error) {
        await counter.end();
        await db.drop();
        throw error;
      }
      return {
        workerConfig: { connectionString: db.url },
        async enqueueBatch(jobs) {
          await boss.insert(jobs.map((data) => ({ name: QUEUE, data })));
        },
        async enqueueOne(job) {
          await boss.send(QUEUE, job);
        },
        async remaining() {
          // Completed jobs stay in the table (archived later): count the ones not yet completed.
          const { rows } = await counter.query<{ n: number }>(
            "select count(*)::int as n from pgboss.job where name = $1 and state < 'completed'",
            [QUEUE],
          );
          return rows[0]!.n;
        },
        async close() {
          await boss.stop({ graceful: false, wait: true });
          await counter.end();
          await db.drop();
        },
      } satisfies QueueCase<PgBossConfig>;
    },
    async teardown() {
      await template?.drop();
    },
  };
}

export const pgBossWorkerSide: QueueWorkerSide = {
  async prepare(config, onJob): Promise<PreparedWorker> {
    const { connectionString } = config as PgBossConfig;
    const boss = onError(new PgBoss({ connectionString, max: SETTINGS.max, ...quiet }));
    await boss.start();
    return {
      async start() {
        for (let i = 0; i < SETTINGS.workLoops; i++) {
          await boss.work<JobPayload>(
            QUEUE,
            { batchSize: SETTINGS.batchSize, pollingIntervalSeconds: SETTINGS.pollingIntervalSeconds },
            async (jobs) => {
              for (const job of jobs) onJob(job.data);
            },
          );
        }
      },
      async stop() {
        await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
      },
    };
  },
};
