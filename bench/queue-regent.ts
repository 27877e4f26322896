// Regent's own task queue in bench/queue: the queue of a flow run (the cluster task runner's), reached over
// GraphQL on the built server (`regent server start`) with its database on the benchmark's PostgreSQL.
//
// - setup: a fresh database, the server child on it (port 0, a config file that does not exist, no
//   REGENT__* variables, as the other benchmarks), `regent project create bench` and `regent register` of
//   a tiny flow; each case then creates a flow run of it, which owns the case's queue (no agent runs it).
// - enqueue: `enqueue_task_jobs` with the jobs of a batch (or one job); ids are UUIDv7, made here.
// - worker: a loop per process that claims up to CLAIM_LIMIT jobs (`claim_task_jobs`), runs the no-ops,
//   and sends their results with the next claim in one request (`complete_task_jobs` + `claim_task_jobs`,
//   as the SDK's cluster worker does); when a claim comes back empty it waits for `task_queue_events`
//   (Server-Sent Events) or POLL_MS, whichever is first; it heartbeats every HEARTBEAT_MS.
// - remaining: the jobs of the run still queued or running, counted in the server's database with SQL (a
//   probe, as the peers' counts are; `take_task_results` answers with results, to be acknowledged, which no
//   peer's count does).
//
// It is measured only when the server has the queue (`claim_task_jobs` in packages/server/schema.graphql)
// and the CLI is built; otherwise the table says why it was skipped.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Api } from "./api.js";
import { CLI, runCliCommand, type ServerChild, startServerChild } from "./children.js";
import { children, onCleanup } from "./cleanup.js";
import { argValue } from "./figures.js";
import { type BenchDatabase, createDatabase } from "./queue-pg.js";
import {
  type JobPayload,
  type PreparedWorker,
  type QueueBackends,
  type QueueCase,
  type QueueSystem,
  type QueueWorkerSide,
  sleep,
} from "./queue-system.js";

const SETTINGS = {
  /**
   * Jobs one claim takes at most (the server allows 1 to 1,000); `--regent-claim-limit N` changes it. 500,
   * as graphile-worker's recommended settings fetch 500 jobs at a time (and the SDK's worker claims up to
   * 500 ahead for tasks this short).
   */
  claimLimit: Number(argValue("--regent-claim-limit") ?? 500),
  /** Claim loops per worker process. */
  loops: 1,
  /** Wait after an empty claim while the subscription is open (it wakes the loop sooner). */
  pollMs: 1_000,
  /** … and while it is not (it is reopened meanwhile). */
  pollUnsubscribedMs: 250,
  heartbeatMs: 10_000,
} as const;

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
const SCHEMA = join(REPO, "packages/server/schema.graphql");

interface RegentConfig {
  readonly graphqlUrl: string;
  readonly flowRunId: string;
  readonly claimLimit: number;
}

// ---------------------------------------------------------------------------------------------------
// GraphQL documents

const ENQUEUE = `mutation($run: uuid!, $jobs: [task_job_input!]!) {
  enqueue_task_jobs(input: { flow_run_id: $run, jobs: $jobs }) { enqueued }
}`;
const CLAIM = `mutation($run: uuid!, $worker: String!, $limit: Int!) {
  claim_task_jobs(input: { flow_run_id: $run, worker_id: $worker, limit: $limit }) { id input }
}`;
const COMPLETE_AND_CLAIM = `mutation($run: uuid!, $worker: String!, $results: [task_job_result_input!]!, $limit: Int!) {
  complete_task_jobs(input: { flow_run_id: $run, worker_id: $worker, results: $results }) { accepted }
  claim_task_jobs(input: { flow_run_id: $run, worker_id: $worker, limit: $limit }) { id input }
}`;
const COMPLETE = `mutation($run: uuid!, $worker: String!, $results: [task_job_result_input!]!) {
  complete_task_jobs(input: { flow_run_id: $run, worker_id: $worker, results: $results }) { accepted }
}`;
const HEARTBEAT = `mutation($run: uuid!, $worker: String!) {
  task_worker_heartbeat(input: { flow_run_id: $run, worker_id: $worker }) { jobs }
}`;
const CLEAR = `mutation($run: uuid!) { clear_task_jobs(input: { flow_run_id: $run }) }`;
const CREATE_FLOW_RUN = `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`;
const EVENTS = `subscription($run: uuid!) { task_queue_events(flow_run_id: $run) { kind count } }`;

/** A UUIDv7 (time-ordered, as the queue claims oldest id first). */
function uuidv7(): string {
  const bytes = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const toJob = (payload: JobPayload) => ({
  id: uuidv7(),
  task_run_id: randomUUID(),
  attempt: 1,
  task_name: "noop",
  task_ordinal: 0,
  input: JSON.stringify(payload),
});

/** Why Regent cannot be measured here, or undefined when it can. */
function regentUnavailable(): string | undefined {
  if (!Number.isInteger(SETTINGS.claimLimit) || SETTINGS.claimLimit < 1 || SETTINGS.claimLimit > 1000)
    return `--regent-claim-limit takes a whole number from 1 to 1000, not ${SETTINGS.claimLimit}`;
  if (!existsSync(SCHEMA) || !readFileSync(SCHEMA, "utf8").includes("claim_task_jobs"))
    return "the server has no task queue yet (claim_task_jobs is not in packages/server/schema.graphql)";
  if (!existsSync(join(REPO, "packages/cli/bundle/main.js")))
    return `the CLI is not built (${CLI} needs packages/cli/bundle): run npm run build`;
  return undefined;
}

const FLOW_SOURCE = `import { flow } from "@regent/sdk";
import { z } from "zod";

// Owns bench/queue's task queues: its runs are created and never run.
export default flow({ name: "queue-bench", params: z.object({}) }, async () => null);
`;

export function regentSystem(backends: QueueBackends): QueueSystem<RegentConfig> & {
  unavailable(): string | undefined;
} {
  let db: BenchDatabase | undefined;
  let counter: pg.Pool | undefined;
  let server: ServerChild | undefined;
  let api: Api | undefined;
  let versionGroupId: string | undefined;
  let removeTemps: (() => Promise<void>) | undefined;
  return {
    name: "regent",
    label: "Regent (PostgreSQL)",
    settings:
      `server on its own database, GraphQL over HTTP on 127.0.0.1; a worker process runs ${SETTINGS.loops} loop: ` +
      `claim_task_jobs(limit ${SETTINGS.claimLimit}), results sent with the next claim, ` +
      `task_queue_events (SSE) to wake + ${SETTINGS.pollMs} ms poll; enqueue_task_jobs batches and single jobs`,
    unavailable: regentUnavailable,
    async setup() {
      const why = regentUnavailable();
      if (why) throw new Error(why);
      const scratch = mkdtempSync(join(tmpdir(), "regent-bench-queue-"));
      // The flow's folder sits inside bench/ so that `@regent/sdk` and `zod` resolve from the repository.
      const flowDir = mkdtempSync(join(BENCH_DIR, ".queue-flow-"));
      removeTemps = onCleanup(async () => {
        rmSync(scratch, { recursive: true, force: true });
        rmSync(flowDir, { recursive: true, force: true });
      });
      const flowFile = join(flowDir, "queue-flow.ts");
      writeFileSync(flowFile, FLOW_SOURCE);
      const configFile = join(scratch, "no-config.toml");
      db = await createDatabase(backends.pgAdminUrl, "queue_regent");
      counter = new pg.Pool({ connectionString: db.url, max: 1 });
      counter.on("error", (error) => process.stderr.write(`regent counter: ${error.message}\n`));
      server = await startServerChild({ db: db.url, configFile, children });
      api = new Api(server.graphqlUrl, server);
      const cli = ["--config", configFile, "--api", server.graphqlUrl];
      await runCliCommand({ args: [...cli, "project", "create", "bench"], children });
      const registered = JSON.parse(
        await runCliCommand({
          args: [...cli, "register", flowFile, "--project", "bench", "--json"],
          children,
        }),
      ) as Array<{ version_group_id: string }>;
      versionGroupId = registered[0]?.version_group_id;
      if (!versionGroupId) throw new Error("regent register registered no flow");
    },
    async prepare() {
      if (!api || !server || !counter || !versionGroupId) throw new Error("regent: setup() was not run");
      const theApi = api;
      const theCounter = counter;
      const { create_flow_run } = await theApi.request<{ create_flow_run: { id: string } }>(CREATE_FLOW_RUN, {
        g: versionGroupId,
      });
      const run = create_flow_run.id;
      return {
        workerConfig: { graphqlUrl: server.graphqlUrl, flowRunId: run, claimLimit: SETTINGS.claimLimit },
        async enqueueBatch(jobs) {
          await theApi.request(ENQUEUE, { run, jobs: jobs.map(toJob) });
        },
        async enqueueOne(job) {
          await theApi.request(ENQUEUE, { run, jobs: [toJob(job)] });
        },
        async remaining() {
          const { rows } = await theCounter.query<{ n: number }>(
            "select count(*)::int as n from task_queue where flow_run_id = $1 and status in ('queued', 'running')",
            [run],
          );
          return rows[0]!.n;
        },
        async close() {
          await theApi.request(CLEAR, { run });
        },
      } satisfies QueueCase<RegentConfig>;
    },
    async teardown() {
      await server?.stop();
      await counter?.end();
      await db?.drop();
      await removeTemps?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The worker side

interface GraphQLAnswer<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

async function gql<T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as GraphQLAnswer<T>;
  if (body.errors?.length) {
    const e = body.errors[0]!;
    throw new Error(`GraphQL error ${e.extensions?.code ?? ""}: ${e.message}`);
  }
  if (!body.data) throw new Error(`HTTP ${res.status} without data`);
  return body.data;
}

/**
 * Wakes on the run's queue events (Server-Sent Events): `next(ms)` resolves at the next event (or the
 * (re)opening of the stream, which may follow missed ones), or after `ms`. A dropped stream is reopened.
 */
function queueEvents(url: string, run: string, signal: AbortSignal) {
  let open = false;
  let dirty = true;
  let waiter: (() => void) | undefined;
  const wake = () => {
    dirty = true;
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  void (async () => {
    while (!signal.aborted) {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "text/event-stream" },
          body: JSON.stringify({ query: EVENTS, variables: { run } }),
          signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        open = true;
        wake();
        const decoder = new TextDecoder();
        for await (const chunk of res.body) {
          // Any event of the run wakes the loop; the claim that follows finds out what there is.
          if (decoder.decode(chunk as Uint8Array, { stream: true }).includes("data:")) wake();
        }
      } catch {
        // reopened below; the loop polls meanwhile
      }
      open = false;
      if (!signal.aborted) await sleep(250);
    }
  })();
  signal.addEventListener("abort", wake, { once: true });
  return {
    kick: wake,
    get open() {
      return open;
    },
    next(ms: number): Promise<void> {
      if (dirty || signal.aborted) {
        dirty = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve();
        }, ms);
        waiter = () => {
          clearTimeout(timer);
          dirty = false;
          resolve();
        };
      });
    },
  };
}

type Claimed = Array<{ id: string; input: string }>;

export const regentWorkerSide: QueueWorkerSide = {
  async prepare(config, onJob): Promise<PreparedWorker> {
    const { graphqlUrl: url, flowRunId: run, claimLimit: limit } = config as RegentConfig;
    const worker = `bench-queue-${process.pid}`;
    // A first request, so that start() does not also time opening the connection.
    await gql(url, "{ __typename }", {});
    const stopping = new AbortController();
    let loops: Promise<void>[] = [];
    let heartbeats: NodeJS.Timeout | undefined;
    return {
      async start() {
        const events = queueEvents(url, run, stopping.signal);
        const loop = async () => {
          let results: Array<{ id: string; result: string }> = [];
          while (!stopping.signal.aborted) {
            const claimed: Claimed =
              results.length > 0
                ? (
                    await gql<{ claim_task_jobs: Claimed }>(url, COMPLETE_AND_CLAIM, {
                      run,
                      worker,
                      results,
                      limit,
                    })
                  ).claim_task_jobs
                : (
                    await gql<{ claim_task_jobs: Claimed }>(url, CLAIM, {
                      run,
                      worker,
                      limit,
                    })
                  ).claim_task_jobs;
            results = [];
            for (const job of claimed) {
              onJob(JSON.parse(job.input) as JobPayload);
              results.push({ id: job.id, result: "null" });
            }
            if (claimed.length === 0)
              await events.next(events.open ? SETTINGS.pollMs : SETTINGS.pollUnsubscribedMs);
          }
          if (results.length > 0) await gql(url, COMPLETE, { run, worker, results });
        };
        loops = Array.from({ length: SETTINGS.loops }, loop);
        heartbeats = setInterval(() => {
          gql(url, HEARTBEAT, { run, worker }).catch((error: Error) =>
            process.stderr.write(`regent worker: heartbeat failed: ${error.message}\n`),
          );
        }, SETTINGS.heartbeatMs);
      },
      async stop() {
        clearInterval(heartbeats);
        stopping.abort();
        await Promise.all(loops);
      },
    };
  },
};
