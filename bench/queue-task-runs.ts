// bench/queue's second half: Regent's queue as flows use it — task runs of a flow with `clusterTaskRunner`,
// executed by `regent worker` processes (the SDK's worker, not a loop of the benchmark's own), each with its
// task-run states and result tracked by the server like any task run. The peers' jobs carry no such state,
// so these figures are the whole product path, not a like-for-like of the queue alone (the first half).
//
// A server on its own PostgreSQL database and a local agent (both the built CLI), flows registered from
// files written here (one per worker count: the runner's size is the flow's code). Each flow run measures
// itself inside the flow function and returns its figures, read back from its Success state:
// - no-op map: after a warm-up map that has every worker up, `noop.map(items)` of N items; task runs/s =
//   N / the map's time;
// - latency: `await noop(sentAt)` one at a time; the task returns its start minus `sentAt` (the moment
//   the flow called it; one machine's wall clock, sub-ms), i.e. call → queued → claimed → started;
// - CPU-bound: a map of CPU_TASKS tasks of CPU_ROUNDS loop rounds each (a fixed amount of work, about
//   200 ms of one core here); speedup = the 1-worker time / this one's. On 2 cores, 2 is the ceiling.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Api } from "./api.js";
import {
  type CliChild,
  runCliCommand,
  type ServerChild,
  startAgentChild,
  startServerChild,
} from "./children.js";
import { children, onCleanup } from "./cleanup.js";
import { percentile, round } from "./figures.js";
import { createDatabase } from "./queue-pg.js";

export const TASK_RUN_WORKERS = [1, 2, 4] as const;
/** The loop rounds of one CPU-bound task (about 200 ms of one core here), and how many of them a case maps. */
const CPU_ROUNDS = 4e7;
const CPU_TASKS = 40;
const LATENCY_SAMPLES = 200;
/** A flow run that has not ended after this long is reported as timed out. */
const RUN_BUDGET_MS = 120_000;

const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

export interface TaskRunFigures {
  readonly workers: number;
  readonly noopPerSecond: number;
  readonly cpuSeconds: number;
  /** The 1-worker CPU-bound time over this one's. */
  readonly cpuSpeedup: number;
}

export interface TaskRunResult {
  readonly tasks: number;
  readonly figures: TaskRunFigures[];
  readonly latency: { p50Ms: number; p95Ms: number; maxMs: number } | undefined;
  readonly errors: string[];
}

const flowSource = (workers: number) => `import { clusterTaskRunner, flow, task } from "@regent/sdk";
import { z } from "zod";

const now = () => performance.timeOrigin + performance.now();
const noop = task({ name: "noop" }, async (sentAt: number) => now() - sentAt);
const whoami = task({ name: "whoami" }, async (ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return process.pid;
});
// A fixed amount of CPU work (not a time: a busy loop of 50 ms wall time would "scale" past the cores).
const spin = task({ name: "spin" }, async (rounds: number) => {
  let x = 0;
  for (let i = 0; i < rounds; i++) x = (x * 31 + i) % 1000003;
  return x;
});

export default flow(
  {
    name: "bench-queue-${workers}",
    params: z.object({ mode: z.enum(["map", "latency", "cpu"]), n: z.number() }),
    taskRunner: clusterTaskRunner({ minWorkers: ${workers}, maxWorkers: ${workers} }),
  },
  async ({ mode, n }) => {
    // Every worker up and warm first (each takes a few hundred ms to start and load the flow): until
    // task runs have come back from ${workers} different worker processes.
    for (let round = 0; round < 50; round++) {
      const pids = await whoami.map(Array.from({ length: ${workers * 2} }, () => 50));
      if (new Set(pids).size === ${workers}) break;
    }
    if (mode === "latency") {
      const lags = [];
      for (let i = 0; i < n; i++) lags.push(await noop(now()));
      return { lags };
    }
    const started = performance.now();
    if (mode === "map") await noop.map(Array.from({ length: n }, () => 0));
    else await spin.map(Array.from({ length: n }, () => ${CPU_ROUNDS}));
    return { ms: performance.now() - started };
  },
);
`;

/** Runs the cases; `progress` says what it does. */
export async function measureTaskRuns(
  pgAdminUrl: string,
  tasks: number,
  progress: (line: string) => void,
): Promise<TaskRunResult> {
  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-task-runs-"));
  // Inside bench/ so that `@regent/sdk` and `zod` resolve from the repository.
  const flowDir = mkdtempSync(join(BENCH_DIR, ".queue-task-runs-"));
  const removeTemps = onCleanup(async () => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(flowDir, { recursive: true, force: true });
  });
  for (const w of TASK_RUN_WORKERS) writeFileSync(join(flowDir, `bench-queue-${w}.ts`), flowSource(w));
  const db = await createDatabase(pgAdminUrl, "queue_task_runs");
  let server: ServerChild | undefined;
  let agent: CliChild | undefined;
  const errors: string[] = [];
  try {
    const configFile = join(scratch, "no-config.toml");
    server = await startServerChild({ db: db.url, configFile, children });
    const api = new Api(server.graphqlUrl, server);
    const cli = ["--config", configFile, "--api", server.graphqlUrl];
    await runCliCommand({ args: [...cli, "project", "create", "bench"], children });
    await runCliCommand({ args: [...cli, "register", flowDir, "--project", "bench"], children });
    agent = await startAgentChild({ cli, maxConcurrent: 1, prestarted: 0, children });

    const run = async (workers: number, mode: string, n: number) => {
      const { flow } = await api.request<{ flow: Array<{ version_group_id: string }> }>(
        `query($name: String!) { flow(where: { name: { _eq: $name } }) { version_group_id } }`,
        { name: `bench-queue-${workers}` },
      );
      const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(
        `mutation($g: uuid!, $p: jsonb) { create_flow_run(input: { version_group_id: $g, parameters: $p }) { id } }`,
        { g: flow[0]!.version_group_id, p: { mode, n } },
      );
      const deadline = Date.now() + RUN_BUDGET_MS;
      for (;;) {
        await new Promise((r) => setTimeout(r, 200));
        const { flow_run_by_pk: r } = await api.request<{
          flow_run_by_pk: {
            state: string;
            state_message: string | null;
            states: Array<{ data: { result?: { ms?: number; lags?: number[] } } | null }>;
          };
        }>(
          `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message states(order_by: [{ version: desc }], limit: 1) { data } } }`,
          { id: create_flow_run.id },
        );
        if (r.state === "Success") return r.states[0]?.data?.result ?? {};
        if (["Failed", "Cancelled", "TimedOut"].includes(r.state))
          throw new Error(`${mode} with ${workers} worker(s) ended ${r.state}: ${r.state_message ?? ""}`);
        if (Date.now() > deadline) throw new Error(`${mode} with ${workers} worker(s) timed out`);
      }
    };

    const figures: TaskRunFigures[] = [];
    let cpuOne: number | undefined;
    for (const workers of TASK_RUN_WORKERS) {
      try {
        progress(
          `Regent task runs: ${tasks.toLocaleString("en")} no-op task runs with ${workers} worker(s)…`,
        );
        const map = await run(workers, "map", tasks);
        progress(`Regent task runs: ${CPU_TASKS} CPU-bound task runs with ${workers} worker(s)…`);
        const cpu = await run(workers, "cpu", CPU_TASKS);
        cpuOne ??= cpu.ms!;
        figures.push({
          workers,
          noopPerSecond: Math.round((tasks / map.ms!) * 1000),
          cpuSeconds: round(cpu.ms! / 1000, 2),
          cpuSpeedup: round(cpuOne / cpu.ms!, 2),
        });
        const f = figures.at(-1)!;
        progress(
          `  ${f.noopPerSecond.toLocaleString("en")} task runs/s; CPU-bound ${f.cpuSeconds} s (×${f.cpuSpeedup})`,
        );
      } catch (error) {
        errors.push((error as Error).message);
        progress(`  failed: ${(error as Error).message}`);
      }
    }
    let latency: TaskRunResult["latency"];
    try {
      progress(`Regent task runs: latency, ${LATENCY_SAMPLES} task runs one at a time, 1 worker…`);
      const { lags } = await run(1, "latency", LATENCY_SAMPLES);
      latency = {
        p50Ms: round(percentile(lags!, 50), 1),
        p95Ms: round(percentile(lags!, 95), 1),
        maxMs: round(Math.max(...lags!), 1),
      };
      progress(`  p50 ${latency.p50Ms} ms, p95 ${latency.p95Ms} ms`);
    } catch (error) {
      errors.push((error as Error).message);
    }
    return { tasks, figures, latency, errors };
  } finally {
    await agent?.stop();
    await server?.stop();
    await db.drop();
    await removeTemps();
  }
}

/** The report's section for these figures. */
export function taskRunReport(result: TaskRunResult): string[] {
  const out = [
    "",
    "  Regent task runs (clusterTaskRunner → regent worker processes; each task run's states tracked by the",
    `  server): ${result.tasks.toLocaleString("en")} no-op task runs mapped after a warm-up; ${CPU_TASKS} CPU-bound task runs of`,
    `  ${CPU_ROUNDS.toLocaleString("en")} loop rounds each (about 200 ms of one core here); ${cpus().length} cores`,
    "",
    `  ${"workers".padEnd(30)}${"no-op runs/s".padStart(14)}${"CPU-bound s".padStart(14)}${"speedup".padStart(10)}`,
  ];
  for (const f of result.figures)
    out.push(
      `  ${String(f.workers).padEnd(30)}${f.noopPerSecond.toLocaleString("en").padStart(14)}${f.cpuSeconds.toFixed(2).padStart(14)}${`×${f.cpuSpeedup.toFixed(2)}`.padStart(10)}`,
    );
  if (result.latency)
    out.push(
      "",
      `  task call → task start, 1 worker, ${LATENCY_SAMPLES} one at a time: p50 ${result.latency.p50Ms} ms, p95 ${result.latency.p95Ms} ms, max ${result.latency.maxMs} ms`,
    );
  for (const e of result.errors) out.push(`  error: ${e}`);
  return out;
}
