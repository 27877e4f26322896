import { RegentClient } from "@regent/client";
import { InvalidConfigError } from "@regent/core";
import { type Store, startServer } from "@regent/server";
import { BACKENDS, backendTest } from "@regent/testkit";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import {
  type ClusterWorkerLauncher,
  type ClusterWorkerLaunchers,
  clusterTaskRunner,
  flow,
  runClusterWorker,
  serverReporter,
  skip,
  task,
} from "../src/index.js";

// The cluster runner's queue through a real server (SQLite and PostgreSQL), with workers that run
// `runClusterWorker` — the loop `regent worker` runs — in this process: the engine's meanings (retries,
// timeouts, cache, skips, logs) must hold across the queue. Worker processes, containers, SIGKILL and
// cancellation are tested end to end in packages/cli/test/cluster.test.ts.

let attempts = 0;
const flaky = task({ name: "cluster-flaky", retries: 2, retryDelay: "10ms" }, async (n: number) => {
  attempts++;
  if (attempts < 3) throw new Error(`flaky ${attempts}`);
  return n + 1;
});
const sleepy = task({ name: "cluster-sleepy", timeout: "300ms" }, async (_: null, ctx) => {
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  return "woke";
});
let cachedCalls = 0;
const cached = task(
  { name: "cluster-cached", cacheKey: (n: number) => String(n), cacheExpiry: "1h" },
  async (n: number) => {
    cachedCalls++;
    return n * 10;
  },
);
const skipper = task({ name: "cluster-skipper" }, async () => skip("nothing to do"));
const rich = task({ name: "cluster-rich" }, async (input: { at: Date; tags: Set<string> }, ctx) => {
  ctx.log.info(`rich at ${input.at.toISOString()}`);
  console.log("said on the console");
  return { seen: new Map([[input.at.getTime(), [...input.tags]]]), big: 2n ** 70n };
});
const square = task({ name: "cluster-square" }, async (n: number) => n * n);
const steady = task({ name: "cluster-steady", timeout: "400ms" }, async (n: number) => {
  await new Promise((resolve) => setTimeout(resolve, 150));
  return n;
});

// `key`: a cache key of this test's own (the default cache lives as long as the process).
const meanings = flow(
  { name: "cluster-meanings", params: z.object({ key: z.number() }) },
  async ({ key }) => {
    const retried = await flaky(1);
    const timedOut = await sleepy(null).then(
      () => "no timeout",
      (e: unknown) => (e as Error).message,
    );
    const first = await cached(key);
    const second = await cached(key);
    const skipped = await skipper().then(String, (e: unknown) => (e as Error).message);
    const value = await rich({ at: new Date(0), tags: new Set(["a", "b"]) });
    return { retried, timedOut, first, second, skipped, value };
  },
);

/** Workers as `runClusterWorker` loops in this process; `starts` counts the launches. */
function inProcessWorkers(client: RegentClient, flowRunId: string) {
  const starts: string[] = [];
  const launchers: ClusterWorkerLaunchers = (): ClusterWorkerLauncher => ({
    kind: "in-process",
    start(workerId, args) {
      starts.push(workerId);
      const stop = new AbortController();
      const flag = (name: string) => args[args.indexOf(name) + 1];
      const idle = flag("--idle-exit");
      const ended = runClusterWorker({
        apiUrl: client.url,
        apiKey: undefined,
        flowRunId,
        workerId,
        concurrency: Number(flag("--concurrency")),
        heartbeatTimeoutMs: 2_000,
        idleExitMs: idle ? Number.parseInt(idle, 10) : undefined,
        signal: stop.signal,
      }).then(
        (r) => ({ how: `ended: ${r.reason}`, clean: true }),
        (e: unknown) => ({ how: `failed: ${(e as Error).message}`, clean: false }),
      );
      return { ref: workerId, ended, stop: () => stop.abort() };
    },
  });
  return { starts, launchers };
}

async function seedRun(store: Store, name: string) {
  const project = await store.createProject(`p-${name}`);
  const { flow: f } = await store.registerFlow({ projectId: project.id as string, name, contentHash: name });
  const run = await store.createFlowRun({ flowId: f.id as string });
  return run.id as string;
}

for (const backend of BACKENDS) {
  describe(`clusterTaskRunner through the server on ${backend}`, () => {
    const test = backendTest(backend);

    test("retries, timeouts, cache, skips, logs and rich values keep their meaning across the queue", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        attempts = 0;
        cachedCalls = 0;
        const flowRunId = await seedRun(server.store, "cluster-meanings");
        const client = new RegentClient({ apiUrl: server.url });
        const workers = inProcessWorkers(client, flowRunId);
        const reporter = serverReporter({ client, flowRunId, flowRunVersion: 1 });
        const key = Math.floor(Math.random() * 1e9);
        const result = await meanings.run(
          { key },
          {
            reporter,
            flowRunId,
            server: { client, flowRunId },
            workers: workers.launchers,
            taskRunner: clusterTaskRunner({ minWorkers: 1, maxWorkers: 2, heartbeatTimeout: "2s" }),
          },
        );
        expect(result.state.type, String(result.error)).toBe("Success");
        expect(result.result).toEqual({
          retried: 2,
          timedOut: 'task "cluster-sleepy" exceeded its timeout of 300 ms',
          first: key * 10,
          second: key * 10,
          skipped: "undefined",
          value: { seen: new Map([[0, ["a", "b"]]]), big: 2n ** 70n },
        });
        expect(attempts).toBe(3);
        expect(cachedCalls).toBe(1);
        expect(workers.starts.length).toBeGreaterThanOrEqual(1);

        const db = database.db;
        const states = await db
          .selectFrom("task_run")
          .select(["task_name", "state", "attempts"])
          .where("flow_run_id", "=", flowRunId)
          .execute();
        const stateOf = (name: string) => states.filter((s) => s.task_name === name).map((s) => s.state);
        expect(stateOf("cluster-flaky")).toEqual(["Success"]);
        expect(states.find((s) => s.task_name === "cluster-flaky")!.attempts).toBe(3);
        expect(stateOf("cluster-sleepy")).toEqual(["TimedOut"]);
        expect(stateOf("cluster-cached").sort()).toEqual(["Cached", "Success"]);
        expect(stateOf("cluster-skipper")).toEqual(["Skipped"]);
        const logs = await db
          .selectFrom("log")
          .innerJoin("task_run", "task_run.id", "log.task_run_id")
          .select(["log.message", "task_run.task_name"])
          .where("log.flow_run_id", "=", flowRunId)
          .execute();
        expect(logs).toEqual(
          expect.arrayContaining([
            { message: "rich at 1970-01-01T00:00:00.000Z", task_name: "cluster-rich" },
            { message: "said on the console", task_name: "cluster-rich" },
          ]),
        );
        // The run's jobs are gone from the queue once it ended.
        const left = await db
          .selectFrom("task_queue")
          .select("id")
          .where("flow_run_id", "=", flowRunId)
          .execute();
        expect(left).toEqual([]);
      } finally {
        await server.close();
      }
    }, 60_000);

    test("workers scale with the waiting task runs up to maxWorkers; none start for a run with no tasks", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const client = new RegentClient({ apiUrl: server.url });
        const wideRun = await seedRun(server.store, "cluster-wide");
        const wide = inProcessWorkers(client, wideRun);
        const many = flow({ name: "cluster-wide" }, async () => square.map([...Array(300).keys()]));
        const result = await many.run(
          {},
          {
            flowRunId: wideRun,
            server: { client, flowRunId: wideRun },
            workers: wide.launchers,
            taskRunner: clusterTaskRunner({ minWorkers: 0, maxWorkers: 3, concurrencyPerWorker: 2 }),
          },
        );
        expect(result.state.type, String(result.error)).toBe("Success");
        expect(result.result).toEqual([...Array(300).keys()].map((n) => n * n));
        expect(wide.starts).toHaveLength(3);

        const emptyRun = await seedRun(server.store, "cluster-empty");
        const empty = inProcessWorkers(client, emptyRun);
        const nothing = flow({ name: "cluster-empty" }, async () => 7);
        const quiet = await nothing.run(
          {},
          {
            flowRunId: emptyRun,
            server: { client, flowRunId: emptyRun },
            workers: empty.launchers,
            taskRunner: clusterTaskRunner({ minWorkers: 0, maxWorkers: 3 }),
          },
        );
        expect(quiet.result).toBe(7);
        expect(empty.starts).toEqual([]);
      } finally {
        await server.close();
      }
    }, 60_000);

    test("a timeout counts from when a worker starts the task run, not while it waits in the queue", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const client = new RegentClient({ apiUrl: server.url });
        const flowRunId = await seedRun(server.store, "cluster-queued");
        const workers = inProcessWorkers(client, flowRunId);
        // One worker, one at a time: the sixth waits 750 ms in the queue, past its 400 ms timeout.
        const queued = flow({ name: "cluster-queued" }, async () => steady.map([1, 2, 3, 4, 5, 6]));
        const result = await queued.run(
          {},
          {
            flowRunId,
            server: { client, flowRunId },
            workers: workers.launchers,
            taskRunner: clusterTaskRunner({ minWorkers: 1, maxWorkers: 1 }),
          },
        );
        expect(result.state.type, String(result.error)).toBe("Success");
        expect(result.result).toEqual([1, 2, 3, 4, 5, 6]);
      } finally {
        await server.close();
      }
    }, 60_000);

    test("a run config no worker can be started with fails the task runs at once, saying why", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const client = new RegentClient({ apiUrl: server.url });
        const flowRunId = await seedRun(server.store, "cluster-refused");
        let starts = 0;
        const refusing: ClusterWorkerLaunchers = () => ({
          kind: "docker",
          start: () => {
            starts++;
            throw new InvalidConfigError("the run config names no image: set dockerRun({ image })");
          },
        });
        const two = flow({ name: "cluster-refused" }, async () => square.map([1, 2]));
        const result = await two.run(
          {},
          {
            flowRunId,
            server: { client, flowRunId },
            workers: refusing,
            taskRunner: clusterTaskRunner({ minWorkers: 1, maxWorkers: 2 }),
          },
        );
        expect(result.state.type).toBe("Failed");
        expect(String((result.error as Error).message)).toMatch(/the run config names no image/);
        // Tried once, not in a loop.
        expect(starts).toBe(1);
      } finally {
        await server.close();
      }
    }, 60_000);

    test("workers that keep dying before any task run finishes fail the task runs, saying how they ended", async ({
      database,
    }) => {
      const server = await startServer({ database, port: 0 });
      try {
        const client = new RegentClient({ apiUrl: server.url });
        const flowRunId = await seedRun(server.store, "cluster-dying");
        let starts = 0;
        const dying: ClusterWorkerLaunchers = () => ({
          kind: "dying",
          start: () => {
            starts++;
            const ended = Promise.resolve({ how: "exited with code 1", clean: false });
            return { ref: `pid ${starts}`, ended, stop: () => {} };
          },
        });
        const one = flow({ name: "cluster-dying" }, async () => square(3));
        const result = await one.run(
          {},
          {
            flowRunId,
            server: { client, flowRunId },
            workers: dying,
            taskRunner: clusterTaskRunner({ minWorkers: 1, maxWorkers: 2 }),
          },
        );
        expect(result.state.type).toBe("Failed");
        expect(String((result.error as Error).message)).toMatch(
          /cluster workers ended one after another without a task run finishing; the last, .* \(pid \d+\), exited with code 1/,
        );
        expect(starts).toBe(4);
      } finally {
        await server.close();
      }
    }, 60_000);
  });
}

describe("clusterTaskRunner options", () => {
  test.for([
    [{ minWorkers: 3, maxWorkers: 2 }, /minWorkers \(3\) is more than maxWorkers \(2\)/],
    [{ maxWorkers: 0 }, /maxWorkers must be a whole number ≥ 1 \(got 0\)/],
    [{ minWorkers: -1 }, /minWorkers must be a whole number ≥ 0 \(got -1\)/],
    [{ concurrencyPerWorker: 1.5 }, /concurrencyPerWorker must be a whole number ≥ 1 \(got 1.5\)/],
    [{ heartbeatTimeout: "soon" }, /soon/],
  ] as const)("%o is refused where it is given", ([options, message]) => {
    expect(() => clusterTaskRunner(options as never)).toThrow(message);
  });
});
