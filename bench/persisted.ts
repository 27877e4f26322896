// Benchmark of a flow run under the local agent with every state and log persisted: µs per task of the
// 1,000-task chain and the 10,000-item map (the flows of bench/local-engine), on SQLite and PostgreSQL,
// beside DBOS Transact's durable steps doing the same on the same PostgreSQL. Prints figures, asserts
// nothing.
//
//   npm run build && npm run bench:persisted
//   eval "$(bash scripts/testbed/postgres.sh start)" && npm run bench:persisted; bash scripts/testbed/postgres.sh stop
//
// For each database the built CLI serves the API (`regent server start --port 0`), the two flows are
// registered with `regent register`, and `regent agent local start --prestarted 0 --max-concurrent 1`
// runs them, one run at a time. A run's time per task is from its Running state (written by the
// executor once the flow's code is loaded) to the moment the server wrote its final state — the last
// write of the executor's last batch, after every task-run state and log line it reported — divided by
// its task runs. After each run the benchmark checks through the API that every task run, each state of
// its history and the flow's log line are in the database.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Api } from "./api.js";
import { runCliCommand, startAgentChild, startServerChild } from "./children.js";
import { abort, checkNotAborting, children, guardProcess, onCleanup } from "./cleanup.js";
import { argValue, cpuMsOf, machine, median, round } from "./figures.js";
import { createPostgresDatabase, PG_HOWTO } from "./postgres.js";

const CHAIN_TASKS = 1_000;
const MAP_ITEMS = 10_000;
/** Runs of each flow: the first is a warm-up (the executor's and the server's first of that flow). */
const WARMUPS = 1;
const REPS = { chain: 5, map: 3 } as const;
/** DBOS repetitions, after one warm-up each (its map is ~10 s a run). */
const DBOS_REPS = { chain: 3, map: 2 } as const;
const RUN_TIMEOUT_MS = 120_000;
/** How often the run's state is read while waiting: seldom, so as not to load the server measured. */
const POLL_MS = 250;
const WATCHDOG_MS = 480_000;

const TARGETS = { usPerTask: 300 } as const;

/** The bench folder of the repository (the generated flows live below it so that their imports resolve). */
const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// The flows

interface FlowSpec {
  readonly key: "chain" | "map";
  readonly name: string;
  /** Task runs a run makes (the map's parent counts as one). */
  readonly taskRuns: number;
  /** The line the flow logs at its end. */
  readonly logLine: string;
  readonly source: string;
}

const FLOWS: readonly FlowSpec[] = [
  {
    key: "chain",
    name: "persisted-chain",
    taskRuns: CHAIN_TASKS,
    logLine: `chain of ${CHAIN_TASKS} tasks done`,
    source: `import { flow, task } from "@regent/sdk";
import { z } from "zod";

const noop = task({ name: "noop" }, (v: number) => v);

export default flow({ name: "persisted-chain", params: z.object({}) }, async (_params, ctx) => {
  let v = 0;
  for (let i = 0; i < ${CHAIN_TASKS}; i++) v = await noop(v);
  ctx.log.info("chain of ${CHAIN_TASKS} tasks done");
  return v;
});
`,
  },
  {
    key: "map",
    name: "persisted-map",
    taskRuns: MAP_ITEMS + 1,
    logLine: `map of ${MAP_ITEMS} items done`,
    source: `import { flow, task } from "@regent/sdk";
import { z } from "zod";

const noop = task({ name: "noop" }, (v: number) => v);

export default flow({ name: "persisted-map", params: z.object({}) }, async (_params, ctx) => {
  const items = Array.from({ length: ${MAP_ITEMS} }, (_, i) => i);
  const out = await noop.map(items);
  ctx.log.info("map of ${MAP_ITEMS} items done");
  return out.length;
});
`,
  },
];

// ---------------------------------------------------------------------------------------------------
// Regent

const Q = {
  create: `mutation($g: uuid!) { create_flow_run(input: { version_group_id: $g }) { id } }`,
  state: `query($id: uuid!) { flow_run_by_pk(id: $id) { state state_message } }`,
  times: `query($id: uuid!) { flow_run_by_pk(id: $id) { created start_time updated } }`,
  persisted: `query($id: uuid!, $line: String!) {
    all: task_run_aggregate(where: { flow_run_id: { _eq: $id } }) { aggregate { count } }
    unfinished: task_run_aggregate(where: { flow_run_id: { _eq: $id }, state: { _nin: ["Success", "Mapped"] } }) { aggregate { count } }
    children: task_run_aggregate(where: { flow_run_id: { _eq: $id }, map_index: { _gte: 0 } }) { aggregate { count } }
    threeStates: task_run_aggregate(where: { flow_run_id: { _eq: $id }, map_index: { _gte: 0 }, state_version: { _eq: 3 } }) { aggregate { count } }
    unmapped: task_run(where: { flow_run_id: { _eq: $id }, map_index: { _eq: -1 } }) { state_version }
    history: task_run_state_aggregate(where: { flow_run_id: { _eq: $id } }) { aggregate { count } }
    logs: log_aggregate(where: { flow_run_id: { _eq: $id }, message: { _eq: $line } }) { aggregate { count } }
  }`,
};

type Count = { aggregate: { count: number } };

interface RunFigure {
  /** From the Running state to the final state written, per task run, µs. */
  readonly runUsPerTask: number;
  /** From create_flow_run to the final state written (a process started for the run included), µs. */
  readonly endToEndUsPerTask: number;
  readonly runMs: number;
  readonly dispatchMs: number;
  /**
   * CPU the server used from create_flow_run to the final state, per task run, µs (null without /proc):
   * the run's claim and the executor's loading of it included.
   */
  readonly serverCpuUsPerTask: number | null;
  readonly stateWrites: number;
}

/** Creates a run of the flow, waits for its final state, checks that everything it reported is stored. */
async function measureRun(
  api: Api,
  serverPid: number,
  versionGroupId: string,
  flow: FlowSpec,
): Promise<RunFigure> {
  checkNotAborting();
  const cpuBefore = cpuMsOf(serverPid);
  const { create_flow_run } = await api.request<{ create_flow_run: { id: string } }>(Q.create, {
    g: versionGroupId,
  });
  const id = create_flow_run.id;
  const deadline = performance.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const { flow_run_by_pk: run } = await api.request<{
      flow_run_by_pk: { state: string; state_message: string | null };
    }>(Q.state, { id });
    if (run.state === "Success") break;
    if (["Failed", "Cancelled", "Crashed", "TimedOut"].includes(run.state))
      throw new Error(`flow run ${id} of ${flow.name} ended ${run.state}: ${run.state_message}`);
    if (performance.now() > deadline)
      throw new Error(`flow run ${id} of ${flow.name} still ${run.state} after ${RUN_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_MS);
  }
  const cpuAfter = cpuMsOf(serverPid);
  const { flow_run_by_pk: t } = await api.request<{
    flow_run_by_pk: { created: string; start_time: string; updated: string };
  }>(Q.times, { id });
  const p = await api.request<{
    all: Count;
    unfinished: Count;
    children: Count;
    threeStates: Count;
    unmapped: Array<{ state_version: number }>;
    history: Count;
    logs: Count;
  }>(Q.persisted, { id, line: flow.logLine });
  const n = (c: Count) => c.aggregate.count;
  // Every task run, in a final state; every state of each one's history (a task run's state version
  // is the number of states it went through); the flow's log line.
  const expectedHistory = p.unmapped.reduce((sum, r) => sum + r.state_version, 0) + 3 * n(p.children);
  const problems = [
    n(p.all) !== flow.taskRuns && `${n(p.all)} task runs stored, ${flow.taskRuns} expected`,
    n(p.unfinished) > 0 && `${n(p.unfinished)} task runs not Success`,
    n(p.threeStates) !== n(p.children) &&
      `${n(p.children) - n(p.threeStates)} mapped task runs without Pending, Running and Success`,
    n(p.history) !== expectedHistory && `${n(p.history)} task-run states stored, ${expectedHistory} expected`,
    n(p.logs) !== 1 && `the flow's log line stored ${n(p.logs)} times`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`flow run ${id} of ${flow.name}: ${problems.join("; ")}`);
  const created = Date.parse(t.created);
  const started = Date.parse(t.start_time);
  const written = Date.parse(t.updated);
  return {
    runUsPerTask: ((written - started) * 1000) / flow.taskRuns,
    endToEndUsPerTask: ((written - created) * 1000) / flow.taskRuns,
    runMs: written - started,
    dispatchMs: started - created,
    serverCpuUsPerTask:
      cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / flow.taskRuns,
    stateWrites: n(p.history),
  };
}

interface FlowResult {
  readonly flow: FlowSpec["key"];
  readonly taskRuns: number;
  readonly runs: RunFigure[];
}

type DatabaseResult = { flows: FlowResult[] } | { skipped: string } | { error: string };

async function benchRegent(
  label: string,
  dbUrl: string,
  flowDir: string,
  scratch: string,
  progress: (line: string) => void,
): Promise<FlowResult[]> {
  const configFile = join(scratch, "no-config.toml");
  const noConfig = ["--config", configFile];
  progress(`${label}: starting the server…`);
  const server = await startServerChild({
    db: dbUrl,
    configFile,
    children,
    cpuProfDir: argValue("--cpu-prof"),
  });
  const stopServer = onCleanup(() => server.stop());
  try {
    const url = server.graphqlUrl;
    const api = new Api(url, server);
    const cli = [...noConfig, "--api", url];
    const run = (args: readonly string[]) => runCliCommand({ args: [...cli, ...args], children });
    await run(["project", "create", "bench"]);
    progress(`${label}: registering the flows…`);
    const registered = JSON.parse(await run(["register", flowDir, "--project", "bench", "--json"])) as Array<{
      name: string;
      version_group_id: string;
    }>;
    progress(`${label}: starting the local agent (--prestarted 0 --max-concurrent 1)…`);
    const agent = await startAgentChild({ cli, maxConcurrent: 1, prestarted: 0, children });
    const stopAgent = onCleanup(() => agent.stop());
    try {
      const results: FlowResult[] = [];
      for (const flow of FLOWS) {
        const group = registered.find((r) => r.name === flow.name)?.version_group_id;
        if (!group) throw new Error(`regent register did not register ${flow.name}`);
        const runs: RunFigure[] = [];
        for (let i = 0; i < WARMUPS + REPS[flow.key]; i++) {
          const figure = await measureRun(api, server.pid, group, flow);
          progress(
            `  ${flow.name} run ${i + 1}${i < WARMUPS ? " (warm-up)" : ""}: ${round(figure.runUsPerTask, 0)} µs/task, ${round(figure.runMs, 0)} ms (dispatch ${round(figure.dispatchMs, 0)} ms; server CPU ${figure.serverCpuUsPerTask === null ? "n/a" : `${round(figure.serverCpuUsPerTask, 0)} µs/task`})`,
          );
          if (i >= WARMUPS) runs.push(figure);
        }
        results.push({ flow: flow.key, taskRuns: flow.taskRuns, runs });
      }
      return results;
    } finally {
      await stopAgent();
    }
  } finally {
    await stopServer();
  }
}

// ---------------------------------------------------------------------------------------------------
// DBOS Transact, in this process, on its own database in the same PostgreSQL cluster

interface DbosResult {
  readonly version: string;
  readonly chainUsPerStep: number[];
  readonly mapUsPerStep: number[];
}

async function benchDbos(systemDatabaseUrl: string, progress: (line: string) => void): Promise<DbosResult> {
  const { DBOS } = await import("@dbos-inc/dbos-sdk");
  const version = packageVersion("@dbos-inc/dbos-sdk");
  DBOS.setConfig({ name: "regent-bench", systemDatabaseUrl, logLevel: "error" });
  const noop = async (v: number) => v;
  // The same shapes: each step's output is checkpointed in PostgreSQL before the workflow goes on.
  const chain = DBOS.registerWorkflow(
    async () => {
      let v = 0;
      for (let i = 0; i < CHAIN_TASKS; i++) v = await DBOS.runStep(() => noop(v), { name: "noop" });
      return v;
    },
    { name: "persisted-chain" },
  );
  const map = DBOS.registerWorkflow(
    async () => {
      const items = Array.from({ length: MAP_ITEMS }, (_, i) => i);
      const out = await Promise.all(items.map((i) => DBOS.runStep(() => noop(i), { name: "noop" })));
      return out.length;
    },
    { name: "persisted-map" },
  );
  // pg warns that DBOS queues queries on a busy client; not this benchmark's business.
  process.noDeprecation = true;
  progress(`DBOS Transact ${version}: launching…`);
  await DBOS.launch();
  try {
    const measure = async (name: string, fn: () => Promise<unknown>, steps: number, reps: number) => {
      const samples: number[] = [];
      for (let i = 0; i < 1 + reps; i++) {
        checkNotAborting();
        const t0 = performance.now();
        await fn();
        const us = ((performance.now() - t0) * 1000) / steps;
        progress(`  DBOS ${name} run ${i + 1}${i === 0 ? " (warm-up)" : ""}: ${round(us, 0)} µs/step`);
        if (i > 0) samples.push(us);
      }
      return samples;
    };
    return {
      version,
      chainUsPerStep: await measure("chain", chain, CHAIN_TASKS, DBOS_REPS.chain),
      mapUsPerStep: await measure("map", map, MAP_ITEMS, DBOS_REPS.map),
    };
  } finally {
    await DBOS.shutdown();
  }
}

/** The version in a dependency's package.json (found above its entry point: its exports hide the file). */
function packageVersion(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {}
    const up = dirname(dir);
    if (up === dir) return "unknown";
    dir = up;
  }
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const started = performance.now();
  const only = argValue("--only");
  if (only !== undefined && only !== "sqlite" && only !== "postgres")
    throw new Error(`--only takes sqlite or postgres, not ${JSON.stringify(only)}`);
  guardProcess("bench/persisted", WATCHDOG_MS);
  const json = process.argv.includes("--json");
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  const scratch = mkdtempSync(join(tmpdir(), "regent-bench-persisted-"));
  // The flow folder sits inside bench/ so that `@regent/sdk` and `zod` resolve from the repository.
  const flowDir = mkdtempSync(join(BENCH_DIR, ".persisted-flows-"));
  const removeTemps = onCleanup(async () => {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(flowDir, { recursive: true, force: true });
  });
  for (const flow of FLOWS) writeFileSync(join(flowDir, `${flow.key}.ts`), flow.source);

  const databases: Record<"sqlite" | "postgres", DatabaseResult> = {
    sqlite: { skipped: "not run" },
    postgres: { skipped: "not run" },
  };
  let dbos: DbosResult | { skipped: string } | { error: string } = { skipped: "not run" };
  const attempt = async <T>(fn: () => Promise<T>): Promise<T | { error: string }> => {
    try {
      return await fn();
    } catch (error) {
      checkNotAborting();
      progress(`  failed: ${(error as Error).message}`);
      return { error: (error as Error).message.split("\n")[0]! };
    }
  };
  try {
    if (only === "postgres") databases.sqlite = { skipped: "--only postgres" };
    else
      databases.sqlite = await attempt(async () => ({
        flows: await benchRegent("SQLite", join(scratch, "regent.db"), flowDir, scratch, progress),
      }));
    const adminUrl = process.env.REGENT_TEST_PG_URL;
    if (only === "sqlite") {
      databases.postgres = { skipped: "--only sqlite" };
      dbos = { skipped: "--only sqlite" };
    } else if (!adminUrl) {
      const skipped = `REGENT_TEST_PG_URL is not set; to measure PostgreSQL (and DBOS): ${PG_HOWTO}`;
      databases.postgres = { skipped };
      dbos = { skipped };
    } else {
      databases.postgres = await attempt(async () => {
        const db = await createPostgresDatabase(adminUrl, "regent_persisted");
        try {
          return { flows: await benchRegent("PostgreSQL", db.url, flowDir, scratch, progress) };
        } finally {
          await db.drop();
        }
      });
      dbos = await attempt(async () => {
        const db = await createPostgresDatabase(adminUrl, "regent_persisted_dbos");
        try {
          return await benchDbos(db.url, progress);
        } finally {
          await db.drop();
        }
      });
    }
  } finally {
    await removeTemps();
  }

  const totalSeconds = round((performance.now() - started) / 1000, 1);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ databases, dbos, targets: TARGETS, environment: machine(), totalSeconds }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(`${report(databases, dbos, totalSeconds)}\n`);
}

function report(
  databases: Record<"sqlite" | "postgres", DatabaseResult>,
  dbos: DbosResult | { skipped: string } | { error: string },
  totalSeconds: number,
): string {
  const f = (x: number) => Math.round(x).toLocaleString("en");
  const host = machine();
  const out = [
    "",
    `Regent flow runs with everything persisted — node ${host.node}, ${host.platform}, ${host.cpus} CPUs (${host.cpuModel})`,
    "",
    "  µs per task run, median of the measured runs (min–max): the run's Running state → its final state",
    "  written by the server, after every task-run state and log line of the run; end to end adds the",
    "  agent starting a process for the run (create_flow_run → final state written); server CPU is the CPU",
    "  time the server process used over that span, per task run (the database's own is not in it).",
    "",
    `  ${"".padEnd(34)}${"chain (1,000 tasks)".padEnd(34)}${"map (10,000 items)".padEnd(34)}`,
  ];
  const verdict = (us: number) => (us <= TARGETS.usPerTask ? "met" : "MISSED");
  for (const [key, label] of [
    ["sqlite", "Regent, SQLite"],
    ["postgres", "Regent, PostgreSQL"],
  ] as const) {
    const r = databases[key];
    if ("skipped" in r || "error" in r) {
      out.push(`  ${label.padEnd(34)}${"skipped" in r ? `skipped: ${r.skipped}` : `error: ${r.error}`}`);
      continue;
    }
    const cell = (flow: FlowResult | undefined, pick: (r: RunFigure) => number, withVerdict: boolean) => {
      if (!flow || flow.runs.length === 0) return "n/a".padEnd(34);
      const xs = flow.runs.map(pick);
      const m = median(xs);
      return `${f(m)} (${f(Math.min(...xs))}–${f(Math.max(...xs))})${withVerdict ? ` ${verdict(m)}` : ""}`.padEnd(
        34,
      );
    };
    const chain = r.flows.find((x) => x.flow === "chain");
    const map = r.flows.find((x) => x.flow === "map");
    out.push(
      `  ${`${label}, run`.padEnd(34)}${cell(chain, (x) => x.runUsPerTask, true)}${cell(map, (x) => x.runUsPerTask, true)}`,
      `  ${`${label}, end to end`.padEnd(34)}${cell(chain, (x) => x.endToEndUsPerTask, false)}${cell(map, (x) => x.endToEndUsPerTask, false)}`,
      `  ${`${label}, server CPU`.padEnd(34)}${cell(chain, (x) => x.serverCpuUsPerTask ?? Number.NaN, false)}${cell(map, (x) => x.serverCpuUsPerTask ?? Number.NaN, false)}`,
    );
  }
  if ("skipped" in dbos || "error" in dbos) {
    out.push(
      `  ${"DBOS Transact".padEnd(34)}${"skipped" in dbos ? `skipped: ${dbos.skipped}` : `error: ${dbos.error}`}`,
    );
  } else {
    const cell = (xs: number[]) =>
      `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`.padEnd(34);
    out.push(
      `  ${`DBOS Transact ${dbos.version}`.padEnd(34)}${cell(dbos.chainUsPerStep)}${cell(dbos.mapUsPerStep)}`,
    );
  }
  out.push(
    "",
    `  target: ≤ ${TARGETS.usPerTask} µs per task. Runs: ${WARMUPS} warm-up + ${REPS.chain} (chain) / ${REPS.map} (map) a database;`,
    `  DBOS: 1 warm-up + ${DBOS_REPS.chain} / ${DBOS_REPS.map}, a workflow of durable steps (DBOS.runStep; the map as Promise.all of steps)`,
    "  timed in this process from the call to its result, on its own database in the same PostgreSQL cluster.",
    "",
    `  total benchmark time: ${totalSeconds} s`,
    "",
  );
  return out.join("\n");
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  await abort("failed", 1);
}
