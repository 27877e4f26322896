// BullMQ on Redis in bench/queue, with the settings its docs give for throughput: a worker's `concurrency`
// (jobs it runs at once), jobs removed when they complete (removeOnComplete; "Going to production"), and a
// connection that retries forever (maxRetriesPerRequest: null, which workers require). An idle worker waits
// in a blocking Redis call, so a new job reaches it without polling.
import { type ConnectionOptions, Queue, Worker } from "bullmq";
import {
  type JobPayload,
  type PreparedWorker,
  packageVersion,
  type QueueBackends,
  type QueueCase,
  type QueueSystem,
  type QueueWorkerSide,
} from "./queue-system.js";

/** Its docs' example uses 50; of 24, 50, 100 and 200 tried on the development machine, 100 was fastest. */
const SETTINGS = { concurrency: 100 } as const;
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true } as const;
const JOB_NAME = "noop";

interface BullmqConfig {
  readonly redisUrl: string;
  readonly queue: string;
}

function connection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

export function bullmqSystem(backends: QueueBackends): QueueSystem<BullmqConfig> {
  let cases = 0;
  return {
    name: "bullmq",
    label: `BullMQ ${packageVersion("bullmq")} (Redis)`,
    settings: `Worker concurrency ${SETTINGS.concurrency}, removeOnComplete; addBulk() batches, add() singly`,
    async setup() {},
    async prepare(caseName) {
      const name = `noop-${caseName}-${process.pid}-${cases++}`;
      const queue = new Queue(name, { connection: connection(backends.redisUrl) });
      queue.on("error", (error) => process.stderr.write(`bullmq queue: ${error.message}\n`));
      await queue.waitUntilReady();
      return {
        workerConfig: { redisUrl: backends.redisUrl, queue: name },
        async enqueueBatch(jobs) {
          await queue.addBulk(jobs.map((data) => ({ name: JOB_NAME, data, opts: JOB_OPTIONS })));
        },
        async enqueueOne(job) {
          await queue.add(JOB_NAME, job, JOB_OPTIONS);
        },
        async remaining() {
          const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
          return Object.values(counts).reduce((a, b) => a + b, 0);
        },
        async close() {
          await queue.obliterate({ force: true });
          await queue.close();
        },
      } satisfies QueueCase<BullmqConfig>;
    },
    async teardown() {},
  };
}

export const bullmqWorkerSide: QueueWorkerSide = {
  async prepare(config, onJob): Promise<PreparedWorker> {
    const { redisUrl, queue } = config as BullmqConfig;
    const worker = new Worker<JobPayload>(
      queue,
      async (job) => {
        onJob(job.data);
      },
      { connection: connection(redisUrl), concurrency: SETTINGS.concurrency, autorun: false },
    );
    worker.on("error", (error) => process.stderr.write(`bullmq worker: ${error.message}\n`));
    await worker.waitUntilReady();
    let running: Promise<void> | undefined;
    return {
      async start() {
        running = worker.run().catch((error: Error) => {
          process.stderr.write(`bullmq worker: ${error.message}\n`);
        });
      },
      async stop() {
        await worker.close();
        await running;
      },
    };
  },
};
